"""Sessions that end when they should: a per-member session token, rotated on log-in
fixation risks, password changes and "log out everywhere"; and password checks that take
as long for unknown e-mails as for known ones."""

from __future__ import annotations

import hmac
import secrets
from functools import lru_cache

from flask import current_app, session
from flask_login import login_user
from werkzeug.security import check_password_hash, generate_password_hash

from models import User, db
from models.user import new_session_token

from ..access import remember_roles


def load(session_id: str) -> User | None:
    """Flask-Login's user loader: `id:token`; a rotated token logs that session out.
    (The fast path answers from memory in front of it: gateway/fastpath/member_copy.py.)"""
    user_id, _, token = session_id.partition(":")
    if not user_id.isdigit() or not token:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not hmac.compare_digest(user.session_token, token):
        return None
    return user


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
