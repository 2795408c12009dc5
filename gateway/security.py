"""Browser-facing protection on every response: security headers, cookie flags, proxies.

CSP allows only this site's own scripts, styles and images (no inline script anywhere:
the two scripts live in static/), forms may post only here and to PayPal's subscribe
page, and no other site may frame any page.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from . import session_cookie
from .paypal_urls import endpoints


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
    """Cookie flags from config (Secure outside debug/testing unless set), the session
    cookie's interface, headers, ProxyFix."""
    for key in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        if app.config.get(key) is None:
            app.config[key] = not (app.debug or app.testing)
    session_cookie.init_app(app)  # the same signed cookie, verified once per process
    proxies = app.config.get("PROXY_FIX") or {}
    if proxies:  # only behind a proxy we run: otherwise X-Forwarded-* is anyone's to forge
        app.wsgi_app = ProxyFix(app.wsgi_app, **proxies)  # type: ignore[method-assign]

    fixed: dict[str, list[tuple[str, str]]] = {}
    hsts = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")

    def wanted(secure: bool) -> list[tuple[str, str]]:
        """The headers every response gets, worked out once per PayPal setting; HSTS over
        HTTPS. Also sent by PayPal's endpoints' fast path (`paypal.routes.FastIntake`)."""
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

    app.extensions["security_headers"] = wanted

    @app.after_request
    def headers(response: Response) -> Response:
        h = response.headers
        # A view may set its own (setdefault semantics); one pass over what it set, rather
        # than a lookup (a KeyError inside werkzeug) per header.
        present = {key.lower() for key, _ in h.items()}
        missing = [kv for kv in wanted(request.is_secure) if kv[0].lower() not in present]
        if missing:
            h.extend(missing)
        return response
