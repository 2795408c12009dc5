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
    """Cookie flags from config (Secure outside debug/testing unless set), headers, ProxyFix."""
    for key in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        if app.config.get(key) is None:
            app.config[key] = not (app.debug or app.testing)
    proxies = app.config.get("PROXY_FIX") or {}
    if proxies:  # only behind a proxy we run: otherwise X-Forwarded-* is anyone's to forge
        app.wsgi_app = ProxyFix(app.wsgi_app, **proxies)  # type: ignore[method-assign]

    @app.after_request
    def headers(response: Response) -> Response:
        h = response.headers
        h.setdefault(
            "Content-Security-Policy", content_security_policy(endpoints(app.config)["webscr"])
        )
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.is_secure:
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
