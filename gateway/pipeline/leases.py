"""Claims are leases: many workers on many hosts take disjoint sets of due messages.

One UPDATE ... RETURNING takes a batch: on PostgreSQL its rows are picked with FOR UPDATE
SKIP LOCKED, on SQLite the single writer serialises it. Either way a crashed worker's
lease runs out and the message is claimed again.
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
    if db.engine.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)  # rows another worker is taking: skip
    # One statement: SQLite runs it under its single writer lock, PostgreSQL under the
    # row locks of the inner SELECT; either way no message goes to two workers.
    ids = db.session.scalars(
        update(Notification)
        .where(Notification.id.in_(due.scalar_subquery()))
        .values(lease_owner=owner, lease_until=until)
        .returning(Notification.id)
    ).all()
    db.session.commit()
    return sorted(ids)


def release(note: Notification) -> None:
    note.lease_owner = note.lease_until = None
