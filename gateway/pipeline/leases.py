"""Claims are leases: many workers on many hosts take disjoint sets of due messages.

On PostgreSQL rows are picked with FOR UPDATE SKIP LOCKED, on SQLite by a conditional
UPDATE; either way a crashed worker's lease runs out and the message is claimed again.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from models import Notification, db

from ..billing.statuses import OPEN_NOTIFICATION


def claim(now: datetime, limit: int = 20, only_id: int | None = None) -> list[int]:
    """Lease up to `limit` due messages to this worker; returns their ids."""
    owner = uuid.uuid4().hex
    until = now + timedelta(seconds=int(current_app.config["IPN_LEASE_SECONDS"]))
    free = or_(Notification.lease_until.is_(None), Notification.lease_until < now)
    due = select(Notification.id).where(
        Notification.status.in_(OPEN_NOTIFICATION), Notification.next_attempt_at <= now, free
    )
    if only_id is not None:
        due = due.where(Notification.id == only_id)
    due = due.order_by(Notification.id).limit(limit)
    ids: list[int] = []
    if db.engine.dialect.name == "postgresql":
        ids = list(db.session.scalars(due.with_for_update(skip_locked=True)))
        if ids:
            db.session.execute(
                update(Notification)
                .where(Notification.id.in_(ids))
                .values(lease_owner=owner, lease_until=until)
            )
    else:
        for candidate in db.session.scalars(due).all():
            result = db.session.execute(
                update(Notification)
                .where(Notification.id == candidate, free)
                .values(lease_owner=owner, lease_until=until)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                ids.append(candidate)
    db.session.commit()
    return ids


def release(note: Notification) -> None:
    note.lease_owner = note.lease_until = None
