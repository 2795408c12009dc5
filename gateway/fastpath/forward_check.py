"""The forward-auth check's common answer without Flask's request handling.

A proxy asks `/gate/check` before every request of the owner's site: it is the hottest
path the app has. Its usual answer is a 200 for a visitor whose everything is already in
memory: the session cookie verified before (session_cookie.py), the member's copy
(member_copy.py), the roles in the session at the member's access version (or kept with
the copy), this process's rule table. This WSGI layer gives exactly that answer, with the
headers `forward.routes.check` would send, and hands every other request to Flask
unchanged: another method or path, a bearer token, no verified cookie in memory, a
session Flask-Login would not accept as it stands (its strong session protection is
checked here as Flask-Login checks it), a session that was logged out (its id among the
copy's ended ones), a copy or roles it cannot trust, and every refusal (401, 403, 400:
they build URLs and log). So nothing is decided here that the view would decide
differently; tests ask both the same questions.

Gain: bench/forward_auth.py (figures in bench/README.md). Off switch: `"forward_check"` in
`FASTPATH_OFF` (every check goes through Flask).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from datetime import datetime
from hashlib import sha512
from typing import TYPE_CHECKING, Any

from flask import Flask
from flask_login.utils import _create_identifier
from werkzeug.http import parse_cookie
from werkzeug.wsgi import get_host

from ..access import SESSION_KEY
from ..access_rules import forwarded as original
from ..access_rules.paths import BadPath, canonical_host, canonical_path
from ..auth.sessions import is_ended
from ..billing.rules.roles import active_roles
from ..extensions import login_manager
from ..rulebook import store
from .member_copy import Copy, GateCache
from .session_cookie import SessionCookies

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

PATH = "/gate/check"
REMEMBER_COOKIE = "remember_token"  # Flask-Login's default name


class FastCheck:
    def __init__(self, app: Flask, wsgi_app: WSGIApplication) -> None:
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if (
            environ.get("PATH_INFO") != PATH
            or environ.get("REQUEST_METHOD") not in ("GET", "HEAD")
            or "HTTP_AUTHORIZATION" in environ
        ):
            return self.wsgi_app(environ, start_response)
        with self.app.app_context():  # the rule table and the content's page rules
            headers = self.answer(environ)
        if headers is None:
            return self.wsgi_app(environ, start_response)
        start_response("200 OK", headers)
        return []

    def answer(self, environ: WSGIEnvironment) -> list[tuple[str, str]] | None:
        """The 200's headers, or None: Flask answers."""
        app = self.app
        if not original.trusted(original.peer(environ), app.extensions["gate_proxies"]):
            return None
        try:
            asked = original.read(
                lambda name: environ.get("HTTP_" + name.upper().replace("-", "_")),
                environ["wsgi.url_scheme"],
                get_host(environ),
                environ["REQUEST_METHOD"],
            )
            path = canonical_path(asked.target, raw=True)
        except (original.Unreadable, BadPath):
            return None
        who = store.latest().decide(path, canonical_host(asked.host)).who
        names = app.config["GATE_HEADERS"]
        cookies = parse_cookie(environ.get("HTTP_COOKIE", ""))
        value = cookies.get(app.config["SESSION_COOKIE_NAME"])
        if not value:
            if REMEMBER_COOKIE in cookies or not who.public:
                return None
            return _headers({name: "" for name in names.values()})
        member = self._member(environ, value)
        if member is None:
            return None
        copy, held = member
        at = app.extensions["clock"].now()
        active = active_roles(held, at)
        if not (who.public or copy.values["is_admin"] or who.admits(True, active)):
            return None
        email = copy.values["email"]
        if not email.isascii():
            return None
        return _headers(
            {
                names["user"]: str(copy.values["id"]),
                names["email"]: email,
                names["roles"]: ",".join(active),
            }
        )

    def _member(
        self, environ: WSGIEnvironment, cookie: str
    ) -> tuple[Copy, dict[str, datetime]] | None:
        """The logged-in member's copy and roles, exactly as Flask-Login and access.py
        would find them; None whenever that needs anything not already in memory."""
        app = self.app
        sessions = app.session_interface
        cache: GateCache | None = app.extensions.get("gate_cache")
        if not isinstance(sessions, SessionCookies) or cache is None:
            return None
        data = sessions.peek(app, cookie)
        if data is None or data.get("_permanent"):
            return None
        session_id = data.get("_user_id")
        mode = app.config.get("SESSION_PROTECTION", login_manager.session_protection)
        if not isinstance(session_id, str) or mode not in ("basic", "strong"):
            return None
        if login_manager._session_identifier_generator is not _create_identifier:
            return None
        if data.get("_id") != _identifier(environ):
            return None
        user_id, _, token = session_id.partition(":")
        if not user_id.isdigit():
            return None
        copy = cache.get(int(user_id))
        if copy is None or not hmac.compare_digest(copy.session_token, token):
            return None
        if is_ended(data, copy.ended):  # logged out: Flask refuses it (and empties the cookie)
            return None
        kept = data.get(SESSION_KEY)
        if isinstance(kept, dict) and kept.get("v") == copy.values["access_version"]:
            return copy, {k: datetime.fromisoformat(v) for k, v in kept["r"].items()}
        held = copy.kept_roles()
        return (copy, held) if held is not None else None


def _identifier(environ: WSGIEnvironment) -> str:
    """flask_login.utils._create_identifier, from the environ (0.6: the first address of
    X-Forwarded-For as sent, else the peer; the User-Agent; each as bytes' repr)."""
    address: Any = environ.get("HTTP_X_FORWARDED_FOR", environ.get("REMOTE_ADDR"))
    if address is not None:
        address = address.encode("utf-8").split(b",")[0].strip()
    agent: Any = environ.get("HTTP_USER_AGENT")
    if agent is not None:
        agent = agent.encode("utf-8")
    return sha512(f"{address}|{agent}".encode()).hexdigest()


def _headers(identity: dict[str, str]) -> list[tuple[str, str]]:
    return [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Length", "0"),
        *identity.items(),
        ("Cache-Control", "no-store"),
    ]


def install(app: Flask) -> None:
    app.wsgi_app = FastCheck(app, app.wsgi_app)  # type: ignore[method-assign]
