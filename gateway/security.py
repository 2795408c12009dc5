"""Browser-facing protection on every response: security headers, cookie flags, proxies.

CSP allows only this site's own scripts, styles and images (no inline script anywhere:
the two scripts live in static/), forms may post only here and to PayPal's subscribe
page, and no other site may frame any page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from .paypal.urls import endpoints

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


@lru_cache(maxsize=8)
def content_security_policy(webscr_url: str) -> str:
    webscr = urlsplit(webscr_url)
    paypal = f"{webscr.scheme}://{webscr.netloc}"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            f"form-action 'self' {paypal}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        ]
    )


def register_security(app: Flask) -> None:
    """Cookie flags from config (Secure outside debug/testing unless set), headers,
    ProxyFix. Wraps the app's WSGI callable as it stands: call it last."""
    for key in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        if app.config.get(key) is None:
            app.config[key] = not (app.debug or app.testing)

    fixed: dict[str, list[tuple[str, str]]] = {}
    hsts = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")

    def wanted(secure: bool) -> list[tuple[str, str]]:
        """The headers every response gets, worked out once per PayPal setting; HSTS over
        HTTPS."""
        cfg = app.config
        key = f"{cfg['PAYPAL_MODE']} {cfg.get('PAYPAL_SIM_URL')} {cfg['PAYPAL_WEBSCR_URL']}"
        found = fixed.get(key)
        if found is None:
            webscr = endpoints(cfg)["webscr"]
            found = fixed[key] = [
                ("Content-Security-Policy", content_security_policy(webscr)),
                ("X-Frame-Options", "DENY"),
                ("X-Content-Type-Options", "nosniff"),
                ("Referrer-Policy", "same-origin"),
                ("Cross-Origin-Opener-Policy", "same-origin"),
            ]
        return found + [hsts] if secure else found

    # Inside ProxyFix, so that the scheme it finds decides HSTS, as request.is_secure would.
    app.wsgi_app = SecurityHeaders(app.wsgi_app, wanted)  # type: ignore[method-assign]
    proxies = app.config.get("PROXY_FIX") or {}
    if proxies:  # only behind a proxy we run: otherwise X-Forwarded-* is anyone's to forge
        app.wsgi_app = ProxyFix(app.wsgi_app, **proxies)  # type: ignore[method-assign]


class SecurityHeaders:
    """Every response of the app gets the headers `wanted` gives, those it did not set
    itself (a view may set its own). A WSGI middleware rather than an after_request
    hook: the same headers added to the response's own list, without a round through
    werkzeug's Headers (which cost a page view 20 us of its 320), and on every answer
    that leaves the app, PayPal's fast intake (gateway/fastpath/intake.py) included."""

    def __init__(
        self, wsgi_app: WSGIApplication, wanted: Callable[[bool], list[tuple[str, str]]]
    ) -> None:
        self.wsgi_app = wsgi_app
        self.wanted = wanted

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        secure = environ.get("wsgi.url_scheme") in ("https", "wss")  # request.is_secure

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            missing = [kv for kv in self.wanted(secure) if kv[0].lower() not in present]
            return start_response(status, headers + missing, exc_info)

        return self.wsgi_app(environ, start)
