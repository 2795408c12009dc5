"""Raise and resolve flags: the system's way of handing a decision to a human."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select

from models import Flag, Subscription, User, db


def raise_flag(
    kind: str,
    message: str,
    now: datetime,
    *,
    notification_id: int | None = None,
    subscription_id: int | None = None,
) -> Flag:
    flag = Flag(
        kind=kind,
        message=message,
        created_at=now,
        notification_id=notification_id,
        subscription_id=subscription_id,
    )
    db.session.add(flag)
    return flag


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
