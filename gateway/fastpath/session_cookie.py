"""Flask's signed-cookie session, the same cookie and the same checks, at less cost per
request.

Flask builds an itsdangerous serializer on every request (and again to save), and
verifies the cookie's HMAC on every request. Here the serializer is built once per set of
keys, and a cookie that has been verified once is remembered with its timestamp: the
same bytes under the same keys verify the same way, so a repeat only has its age checked
again (PERMANENT_SESSION_LIFETIME, exactly as itsdangerous checks it) and gets a fresh
copy of the data. A cookie that does not verify is never remembered; neither is one whose
data holds anything but plain JSON (those are decoded every time).

Off switch: `"session_cookie"` in `FASTPATH_OFF` (Flask's own session interface).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

#: Verified cookies remembered per process (about one per active session).
MAX_COOKIES = 10_000

_PLAIN_SCALARS = (str, int, float, bool, type(None))


class _NotPlain(Exception):
    pass


def _plain_copy(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dict, list, str, numbers); anything else (the
    tagged types: tuple, bytes, datetime, Markup...) raises _NotPlain."""
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return value
    if kind is dict:
        return {k: _plain_copy(v) for k, v in value.items()}
    if kind is list:
        return [_plain_copy(v) for v in value]
    raise _NotPlain


class SessionCookies(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._serializers: dict[tuple[Any, ...], URLSafeTimedSerializer] = {}
        #: keys -> cookie -> (timestamp, data)
        self._verified: dict[tuple[Any, ...], dict[str, tuple[int, dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(app: Flask) -> tuple[Any, ...]:
        return (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        keys = self._keys(app)
        found = self._serializers.get(keys)
        if found is None:
            found = super().get_signing_serializer(app)
            if found is not None:
                with self._lock:
                    self._serializers[keys] = found
        return found

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        s = self.get_signing_serializer(app)
        if s is None:
            return None
        val = request.cookies.get(self.get_cookie_name(app))
        if not val:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        verified = self._verified.get(self._keys(app))
        hit = verified.get(val) if verified is not None else None
        if hit is not None:
            age = int(time.time()) - hit[0]  # as itsdangerous's TimestampSigner.unsign
            if age > max_age or age < 0:
                return self.session_class()
            return self.session_class(_plain_copy(hit[1]))
        try:
            data, stamp = s.loads(val, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        try:
            kept = _plain_copy(data) if type(data) is dict else None
        except _NotPlain:
            kept = None
        if kept is not None:
            self._remember(app, val, int(stamp.timestamp()), kept)
        return self.session_class(data)

    def peek(self, app: Flask, val: str) -> dict[str, Any] | None:
        """The data of a cookie verified before and still young enough, not copied: for
        reading only (forward_check.py). None when it would have to be verified now."""
        verified = self._verified.get(self._keys(app))
        hit = verified.get(val) if verified is not None else None
        if hit is None:
            return None
        age = int(time.time()) - hit[0]
        max_age = int(app.permanent_session_lifetime.total_seconds())
        return hit[1] if 0 <= age <= max_age else None

    def _remember(self, app: Flask, val: str, stamp: int, data: dict[str, Any]) -> None:
        with self._lock:
            verified = self._verified.setdefault(self._keys(app), {})
            while len(verified) >= MAX_COOKIES:
                del verified[next(iter(verified))]  # the oldest first
            verified[val] = (stamp, data)


def install(app: Flask) -> None:
    app.session_interface = SessionCookies()
