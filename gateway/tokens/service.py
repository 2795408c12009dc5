"""Create, revoke, rotate and check a member's secrets.

A secret is shown to its member once, when made; the table keeps its SHA-256 digest, so
checking one is a lookup by digest (an index probe on a hash the caller cannot steer:
nothing to time). `last_used_at` is written at most once an hour per token, so a feed
reader polling every minute does not write on every request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select

from models import MemberToken, User, db
from models.token import API, FEED

from ..clock import now

PREFIXES = {FEED: "tg_feed_", API: "tg_pat_"}
#: How stale last_used_at may be before a use writes it again.
USE_RESOLUTION = timedelta(hours=1)
LABEL_MAX = 80
FEED_LABEL = "Private feed"


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(user: User, kind: str, label: str) -> tuple[MemberToken, str]:
    """A new token for `user` and its secret (the only time the secret exists in full)."""
    if kind not in PREFIXES:
        raise ValueError(f"unknown token kind {kind!r}")
    label = label.strip()
    if not label or len(label) > LABEL_MAX:
        raise ValueError(f"a label of 1 to {LABEL_MAX} characters")
    secret = PREFIXES[kind] + secrets.token_urlsafe(32)
    token = MemberToken(
        user_id=user.id,
        kind=kind,
        label=label,
        digest=digest_of(secret),
        prefix=secret[:8],
        created_at=now(),
    )
    db.session.add(token)
    db.session.flush()
    return token, secret


def live(user_id: int, kind: str | None = None) -> list[MemberToken]:
    """The member's tokens not revoked, newest first."""
    query = select(MemberToken).where(
        MemberToken.user_id == user_id, MemberToken.revoked_at.is_(None)
    )
    if kind is not None:
        query = query.where(MemberToken.kind == kind)
    return list(db.session.scalars(query.order_by(MemberToken.id.desc())))


def revoke(token: MemberToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = now()


def rotate_feed(user: User) -> tuple[MemberToken, str]:
    """The member's one feed address, new: the old one stops at once."""
    for old in live(user.id, FEED):
        revoke(old)
    return create(user, FEED, FEED_LABEL)


def owned(user_id: int, token_id: int) -> MemberToken | None:
    token = db.session.get(MemberToken, token_id)
    return token if token is not None and token.user_id == user_id else None


def member_for(secret: str, kind: str) -> User | None:
    """The member a live secret of `kind` belongs to, else None. Commits a use when the
    last one noted is over an hour old."""
    if not secret.startswith(PREFIXES[kind]):
        return None
    token = db.session.scalar(select(MemberToken).where(MemberToken.digest == digest_of(secret)))
    if token is None or token.kind != kind or token.revoked_at is not None:
        return None
    user = db.session.get(User, token.user_id)
    at = now()
    if token.last_used_at is None or at - token.last_used_at >= USE_RESOLUTION:
        token.last_used_at = at
        db.session.commit()
    return user
