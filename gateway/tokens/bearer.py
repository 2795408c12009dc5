"""`Authorization: Bearer tg_pat_…`: a member's content, read by a script, without a session.

A request carrying one of our tokens has no session: it opens an empty one and never
saves it (no Set-Cookie, whatever the page touched, the CSRF token included), and its
member is set for that request alone. Its roles are computed from the database
(access.current_roles reads no session for it). Tokens only read: GET and HEAD on the
content's pages, files and listings; anything else with one is 403, so no form post is
ever made with a token. A token that is wrong or revoked is 401 on content, never read
as anonymous. Other bearer tokens (the metrics scrape's) are left to their routes.
"""

from __future__ import annotations

from flask import Flask, Request, Response, abort, g, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin

from models.token import API

from ..access import TOKEN_REQUEST
from ..fastpath.session_cookie import SessionCookies
from . import service

#: Endpoints a token may read.
READABLE = frozenset({"content.serve", "member.index", "gate.check", "gate.me"})
#: Of those, the ones asked about another request, whose method they check themselves.
ASKED_FOR = frozenset({"gate.check"})
OURS = "tg_"


def bearer_of(req: Request) -> str | None:
    """The bearer token of a request, if it sends one."""
    scheme, _, value = req.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


class TokenSessions(SecureCookieSessionInterface):
    """The app's signed-cookie sessions, except for requests carrying one of our tokens."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if (bearer_of(request) or "").startswith(OURS):
            request.environ[TOKEN_REQUEST] = True
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if request.environ.get(TOKEN_REQUEST):
            return
        super().save_session(app, session, response)


class FastTokenSessions(TokenSessions, SessionCookies):
    """The same over the fast path's session cookies (fastpath/session_cookie.py)."""


def authenticate() -> Response | None:
    """Before any other before-request (CSRF's included): the token's member, or 401/403."""
    secret = bearer_of(request)
    if secret is None:
        return None
    if request.endpoint not in READABLE:
        if secret.startswith(OURS):
            abort(403, description="Access tokens only read content pages and files.")
        return None  # someone else's bearer scheme (/metrics)
    if request.method not in ("GET", "HEAD") and request.endpoint not in ASKED_FOR:
        abort(403, description="Access tokens only read content pages and files.")
    user = service.member_for(secret, API)
    if user is None:
        return Response(
            "That access token is not valid (wrong, or revoked).\n",
            401,
            {"WWW-Authenticate": 'Bearer error="invalid_token"', "Cache-Control": "no-store"},
            mimetype="text/plain",
        )
    g._login_user = user  # Flask-Login's current_user, for this request only
    return None


def install(app: Flask) -> None:
    """After the fast path, whose session cookies (if on) this keeps."""
    fast = isinstance(app.session_interface, SessionCookies)
    app.session_interface = FastTokenSessions() if fast else TokenSessions()
    app.before_request_funcs.setdefault(None, []).insert(0, authenticate)
