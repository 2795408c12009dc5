"""Raise and resolve flags: the system's way of handing a decision to a human."""

from __future__ import annotations

from datetime import datetime

from models import Flag, User, db


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
