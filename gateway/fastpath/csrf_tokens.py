"""CSRF tokens for pages, each signed once per process.

Flask-WTF signs the session's raw token (with a timestamp) on every call, and every page
carries one (the log-out form in the header). With WTF_CSRF_TIME_LIMIT = None the
timestamp is never checked, so a signature made once is as good as a fresh one: keep it
per raw token and skip the HMAC and zlib round on each page view. Validation is still
Flask-WTF's own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from flask import Flask, current_app, g, request, session
from flask_wtf.csrf import CSRFProtect, generate_csrf

#: Stands for the CSRF token in a page kept for many visitors (gateway/fastpath/page_cache.py),
#: which puts each request's own in its place (NUL: no page text contains one).
TOKEN = "\x00csrf\x00"

#: Raw tokens remembered per process (one per active session); the oldest go first.
MAX_TOKENS = 20_000


class SignedTokens:
    def __init__(self) -> None:
        self._signed: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def token(self) -> str:
        if g.get("keeping_page"):
            return TOKEN
        cfg = current_app.config
        if cfg.get("WTF_CSRF_TIME_LIMIT") is not None:
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


def init_app(app: Flask) -> None:
    """Templates' `csrf_token()` (Flask-WTF's name) answers from the per-process cache.
    Flask-WTF puts its own in the globals and in a context processor; a context processor
    registered after it wins."""
    token = SignedTokens().token
    app.jinja_env.globals["csrf_token"] = token
    app.context_processor(lambda: {"csrf_token": token})


def check_methods_first(app: Flask, csrf: CSRFProtect) -> None:
    """Flask-WTF's before-request CSRF check, replaced in its own place among the hooks
    by the same check asked in a cheaper order.

    Flask-WTF 1.3 looks up the view's exemption before it looks at the method, so every
    GET paid for the lookup. Here a method it does not check (anything but
    WTF_CSRF_METHODS) returns at once; the rest get Flask-WTF's own `protect`, with its
    exemptions. Its switches (WTF_CSRF_ENABLED, WTF_CSRF_CHECK_DEFAULT) are read on each
    request, as Flask-WTF reads them. Call after `csrf.init_app`; if Flask-WTF's hook is
    not found the app does not start (rather than run without the check).
    """
    hooks = app.before_request_funcs.setdefault(None, [])
    theirs = [i for i, hook in enumerate(hooks) if hook.__module__ == "flask_wtf.csrf"]
    if len(theirs) != 1:
        raise RuntimeError("Flask-WTF's CSRF hook not found: call after csrf.init_app")

    def csrf_protect() -> None:
        cfg = app.config
        if (
            request.method in cfg["WTF_CSRF_METHODS"]
            and cfg["WTF_CSRF_ENABLED"]
            and cfg["WTF_CSRF_CHECK_DEFAULT"]
        ):
            csrf.protect(apply_exemptions=True)

    hooks[theirs[0]] = csrf_protect
