"""Sessions that end when they should: a per-member session token, rotated on log-in
fixation risks, password changes and "log out everywhere"; and password checks that take
as long for unknown e-mails as for known ones."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar, cast

from flask import current_app, has_request_context, request, session
from flask_login import login_user
from werkzeug.security import check_password_hash, generate_password_hash

from models import User, db
from models.user import new_session_token

from ..access import remember_roles
from ..fastpath.gate_cache import GateCache, watcher_for

#: The attribute `member_copy_suffices` sets on a view function.
COPY_SUFFICES = "member_copy_suffices"


V = TypeVar("V", bound=Callable[..., Any])


def member_copy_suffices(view: V) -> V:
    """Mark a view that reads of `current_user` only what the gate keeps in memory (id,
    e-mail, admin flag, access version): it may get the read-only `Member` instead of an
    ORM `User` (anything else it reads still loads the row)."""
    setattr(view, COPY_SUFFICES, True)
    return view


def member_copy_suffices_here() -> bool:
    if not has_request_context() or request.url_rule is None:
        return False
    view = current_app.view_functions.get(request.url_rule.endpoint)
    return getattr(view, COPY_SUFFICES, False) is True


def load(session_id: str) -> User | None:
    """Flask-Login's user loader: `id:token`; a rotated token logs that session out.

    From this process's copy when it can be trusted (gateway/fastpath/gate_cache.py: no query),
    else from the database, which then refreshes the copy. From the copy, a view marked
    `member_copy_suffices` gets the read-only `Member`; any other an ORM `User`."""
    user_id, _, token = session_id.partition(":")
    if not user_id.isdigit() or not token:
        return None
    cache = gate_cache()
    copy = cache.get(int(user_id)) if cache is not None else None
    user: User
    if copy is not None:
        # A Member stands in for a User where the view said it may (duck-typed: it has
        # what Flask-Login and the gate read, and loads the row for anything else).
        user = cast(User, copy.member) if member_copy_suffices_here() else copy.as_user()
    else:
        generation = cache.generation if cache is not None else 0
        found = db.session.get(User, int(user_id))
        if found is None:
            return None
        user = found
        if cache is not None:
            cache.put(user, generation)
    if not hmac.compare_digest(user.session_token, token):
        return None
    return user


def gate_cache() -> GateCache | None:
    """This app's per-process cache of members (None when GATE_CACHE_SECONDS is 0)."""
    app = current_app
    if "gate_cache" not in app.extensions:
        ttl = float(app.config["GATE_CACHE_SECONDS"])
        cache = GateCache(ttl) if ttl > 0 else None
        if cache is not None:
            cache.watcher = watcher_for(db.engine, cache)
        app.extensions["gate_cache"] = cache
    found: GateCache | None = app.extensions["gate_cache"]
    return found


@lru_cache(maxsize=4)
def _dummy_hash(method: str) -> str:
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def password_matches(user: User | None, password: str) -> bool:
    """Check the password; for an unknown e-mail, hash anyway so both take the same time."""
    if user is None:
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        return False
    return user.check_password(password)


def start_session(user: User) -> None:
    """Log in on a fresh session: whatever a planted cookie held (CSRF token included) is
    dropped, so a fixed session cannot be taken over."""
    session.clear()
    login_user(user)
    remember_roles(user)


def end_other_sessions(user: User, keep_this_one: bool = True) -> None:
    """Every session of `user` (every browser, every copied cookie) ends at its next
    request; this one goes on with the new token if `keep_this_one`."""
    user.session_token = new_session_token()
    db.session.commit()
    if keep_this_one:
        start_session(user)
