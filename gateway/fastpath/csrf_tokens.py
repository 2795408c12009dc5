"""CSRF tokens for pages, each signed once per process.

Flask-WTF signs the session's raw token (with a timestamp) on every call, and every page
carries one (the log-out form in the header). With WTF_CSRF_TIME_LIMIT = None the
timestamp is never checked, so a signature made once is as good as a fresh one: keep it
per raw token and skip the HMAC and zlib round on each page view. Validation is still
Flask-WTF's own.

Off switch: `"csrf_tokens"` in `FASTPATH_OFF` (a token signed for each page).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from flask import Flask, current_app, g, session
from flask_wtf.csrf import generate_csrf

#: Stands for the CSRF token in a page kept for many visitors (gateway/fastpath/kept_pages.py),
#: which puts each request's own in its place (NUL: no page text contains one).
TOKEN = "\x00csrf\x00"

#: Raw tokens remembered per process (one per active session); the oldest go first.
MAX_TOKENS = 20_000


class SignedTokens:
    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self._signed: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def token(self) -> str:
        if g.get("keeping_page"):
            return TOKEN
        cfg = current_app.config
        if not self.keep or cfg.get("WTF_CSRF_TIME_LIMIT") is not None:
            return generate_csrf()  # tokens expire: each needs its own timestamp
        field = cfg.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        raw = session.get(field)
        if raw:
            with self._lock:
                signed = self._signed.get(raw)
            if signed is not None:
                return signed
        signed = generate_csrf()
        with self._lock:
            self._signed[session[field]] = signed
            while len(self._signed) > MAX_TOKENS:
                self._signed.popitem(last=False)
        return signed


def install(app: Flask, keep: bool) -> None:
    """Templates' `csrf_token()` (Flask-WTF's name): from the per-process cache when `keep`.
    Flask-WTF puts its own in the globals and in a context processor; a context processor
    registered after it wins. (The kept pages need ours either way: it answers `TOKEN`
    while a page is being kept.)"""
    token = SignedTokens(keep).token
    app.jinja_env.globals["csrf_token"] = token
    app.context_processor(lambda: {"csrf_token": token})
