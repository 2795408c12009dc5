"""Sessions that end when they should: a per-member session token, rotated on log-in
fixation risks, password changes and "log out everywhere"; a per-session id, recorded as
ended by a plain log-out (that session and every copy of its cookie, not the member's
other browsers); and password checks that take as long for unknown e-mails as for known
ones."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from hashlib import sha256
from typing import Any

from flask import current_app, g, has_request_context, session
from flask_login import login_user
from sqlalchemy import delete, select
from werkzeug.security import check_password_hash, generate_password_hash

from models import EndedSession, User, db
from models.user import new_session_token

from ..access import remember_roles
from ..database import insert_new, members_changed

#: The session's own random id, set at log-in: what a plain log-out records as ended.
SID_KEY = "_sid"
#: g: user id -> the ended digests `load` read with the member (taken by the copy).
_ENDED_READ = "_ended_sessions_read"


def digest(sid: str) -> str:
    """What is stored of a session id: a leaked table opens nothing."""
    return sha256(sid.encode()).hexdigest()


def sid_digest(data: Mapping[str, Any]) -> str | None:
    """The digest of a session's id, or None for a session without one (from before)."""
    sid = data.get(SID_KEY)
    return digest(sid) if isinstance(sid, str) else None


def is_ended(data: Mapping[str, Any], ended: frozenset[str]) -> bool:
    """Is the session `data` one of `ended` (a member's ended digests)?"""
    return bool(ended) and sid_digest(data) in ended


def refuse_if_ended(ended: frozenset[str]) -> bool:
    """True if this request's session was logged out; its cookie is then emptied, so a
    copy that is answered cannot come back signed anew (and outlive its ended row)."""
    if not has_request_context() or not is_ended(session, ended):
        return False
    session.clear()
    return True


def ended_sessions(user_id: int) -> frozenset[str]:
    """The member's ended session digests, for their per-process copy: those this
    request's `load` read with the row (no second query), else read now."""
    read: dict[int, frozenset[str]] | None = g.get(_ENDED_READ)
    if read is not None and user_id in read:
        return read.pop(user_id)
    query = select(EndedSession.digest).where(EndedSession.user_id == user_id)
    return frozenset(db.session.scalars(query))


def load(session_id: str) -> User | None:
    """Flask-Login's user loader: `id:token`; a rotated token logs that session out, and
    so does this session's id among the member's ended ones (read with the row, in one
    query). (The fast path answers from memory in front of it:
    gateway/fastpath/member_copy.py.)"""
    user_id, _, token = session_id.partition(":")
    if not user_id.isdigit() or not token:
        return None
    rows = db.session.execute(
        select(User, EndedSession.digest)
        .outerjoin(EndedSession, EndedSession.user_id == User.id)
        .where(User.id == int(user_id))
    ).all()
    if not rows:
        return None
    user = rows[0][0]
    ended = frozenset(row[1] for row in rows if row[1] is not None)
    if not hmac.compare_digest(user.session_token, token) or refuse_if_ended(ended):
        return None
    g.setdefault(_ENDED_READ, {})[user.id] = ended
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
    dropped, so a fixed session cannot be taken over. The session gets its own random id."""
    session.clear()
    login_user(user)
    session[SID_KEY] = secrets.token_urlsafe(18)
    remember_roles(user)


def end_this_session(user: User, at: datetime) -> None:
    """A plain log-out: this session ends on the server, for every copy of its cookie,
    and the member's other sessions go on. The caller then logs this browser out."""
    found = sid_digest(session)
    if found is None:
        # A session from before per-session ids has nothing to tell it from the member's
        # other sessions: only rotating the token ends every copy of its cookie (it also
        # ends the member's other browsers, as every log-out did then).
        end_other_sessions(user, keep_this_one=False)
        return
    insert_new(
        EndedSession,
        [{"digest": found, "user_id": user.id, "ended_at": at}],
        unique=["digest"],
        returning=["digest"],
    )
    members_changed([user.id])  # every process drops its copy: the next one sees this
    db.session.commit()
    session.pop(SID_KEY, None)


def forget_ended(before: datetime) -> int:
    """Delete ended sessions recorded before `before`: their cookies are refused anyway."""
    result = db.session.execute(delete(EndedSession).where(EndedSession.ended_at < before))
    db.session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def end_other_sessions(user: User, keep_this_one: bool = True) -> None:
    """Every session of `user` (every browser, every copied cookie) ends at its next
    request; this one goes on with the new token if `keep_this_one`."""
    user.session_token = new_session_token()
    db.session.commit()
    if keep_this_one:
        start_session(user)
