"""Security headers on every page, and cookie flags outside debug/testing."""

from __future__ import annotations

import re

import pytest

from gateway import create_app
from models import db
from tests.factories import PASSWORD


@pytest.mark.parametrize("path", ["/", "/plans", "/auth/login", "/nope", "/static/site.css"])
def test_every_response_carries_the_security_headers(client, path):
    """CSP without inline script, no framing, no sniffing, a strict referrer policy."""
    h = client.get(path).headers
    csp = h["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "form-action 'self' http://127.0.0.1:5001" in csp
    assert h["X-Frame-Options"] == "DENY" and h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in h  # plain http


def test_hsts_over_https(client):
    """Served over HTTPS, the site asks browsers to keep using it."""
    r = client.get("/", base_url="https://localhost")
    assert r.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_no_template_has_inline_script():
    """Scripts are files under static/ (the CSP would block an inline one)."""
    from pathlib import Path

    for page in (Path(__file__).parents[2] / "templates").rglob("*.html"):
        if "sim" in page.parts:
            continue  # the stand-in's own pages, another app
        text = page.read_text()
        inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", text)  # a script with no src
        handlers = re.findall(r"\son[a-z]+\s*=", text)  # onclick=, onload=, ...
        assert inline == [] and handlers == [], (page, inline, handlers)


def test_production_cookies_are_secure_httponly_and_lax(migrated, tmp_path, make_user):
    """Outside debug/testing: Secure, HttpOnly, SameSite=Lax on the session cookie."""
    app = create_app(
        {
            "SECRET_KEY": "production-like-secret-0123456789",
            "SQLALCHEMY_DATABASE_URI": migrated,
            "WTF_CSRF_ENABLED": False,
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        },
        instance_path=str(tmp_path),
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    email = make_user("c@example.com").email
    try:
        with app.app_context():
            r = app.test_client().post(
                "/auth/login",
                base_url="https://localhost",
                data={"email": email, "password": PASSWORD},
            )
    finally:
        with app.app_context():
            db.engine.dispose()  # this second app's pool: closed, not left to the collector
    cookie = r.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
