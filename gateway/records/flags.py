"""Raise and resolve flags: the system's way of handing a decision to a human."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select

from models import Flag, Subscription, User, db

from ..database import insert_new


def raise_flag(
    kind: str,
    message: str,
    now: datetime,
    *,
    notification_id: int | None = None,
    subscription_id: int | None = None,
    key: str | None = None,
) -> Flag | None:
    """A new flag; with a `key`, only if no flag with that key was ever raised (returns
    None then: a cause found again, e.g. by every reconciliation run, is flagged once)."""
    values = {
        "kind": kind,
        "message": message,
        "created_at": now,
        "notification_id": notification_id,
        "subscription_id": subscription_id,
    }
    if key is None:
        flag = Flag(**values)
        db.session.add(flag)
        return flag
    created = insert_new(Flag, [{**values, "key": key[:200]}], unique=("key",), returning=("id",))
    return db.session.get(Flag, created[0][0]) if created else None


def resolve(flag: Flag, admin: User, note: str, now: datetime) -> None:
    if flag.resolved_at is not None:
        raise ValueError("this flag is already resolved")
    flag.resolved_at, flag.resolved_by, flag.resolution = now, admin.id, note


def resolve_flags_of(
    sub: Subscription, kinds: Collection[str], admin: User, note: str, now: datetime
) -> int:
    """Resolve the open flags of these kinds about `sub` (an admin action settled them)."""
    flags = db.session.scalars(
        select(Flag).where(
            Flag.subscription_id == sub.id, Flag.kind.in_(kinds), Flag.resolved_at.is_(None)
        )
    ).all()
    for flag in flags:
        resolve(flag, admin, note, now)
    return len(flags)
