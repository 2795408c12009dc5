"""Claims are leases: many workers on many hosts take disjoint sets of due messages.

One UPDATE ... RETURNING takes a batch: on PostgreSQL its rows are picked with FOR UPDATE
SKIP LOCKED, on SQLite the single writer serialises it. Either way a crashed worker's
lease runs out and the message is claimed again.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Select, or_, select, text, update

from models import Notification, db
from models.notification import OPEN_SQL


def due(now: datetime, limit: int, only_id: int | None = None) -> Select[int]:
    """The ids of up to `limit` messages due now, oldest first, read from the open index.

    The claimable statuses are written out as literals (`OPEN_SQL`): PostgreSQL uses the
    partial index `ix_notifications_open` only for a condition that implies its own when
    the plan is made, which a bound parameter (a generic plan) does not. Without it a claim
    walked every processed message's id (135 ms a claim with 1,000,000 behind it)."""
    free = or_(Notification.lease_until.is_(None), Notification.lease_until < now)
    stmt = select(Notification.id).where(text(OPEN_SQL), Notification.next_attempt_at <= now, free)
    if only_id is not None:
        stmt = stmt.where(Notification.id == only_id)
    return stmt.order_by(Notification.id).limit(limit)


def claim(now: datetime, limit: int = 20, only_id: int | None = None) -> list[int]:
    """Lease up to `limit` due messages to this worker; returns their ids."""
    owner = uuid.uuid4().hex
    until = now + timedelta(seconds=int(current_app.config["IPN_LEASE_SECONDS"]))
    picked = due(now, limit, only_id)
    if db.engine.dialect.name == "postgresql":
        picked = picked.with_for_update(skip_locked=True)  # rows another worker takes: skip
    # One statement: SQLite runs it under its single writer lock, PostgreSQL under the
    # row locks of the inner SELECT; either way no message goes to two workers.
    ids = db.session.scalars(
        update(Notification)
        .where(Notification.id.in_(picked.scalar_subquery()))
        .values(lease_owner=owner, lease_until=until)
        .returning(Notification.id)
    ).all()
    db.session.commit()
    return sorted(ids)


def give_back(ids: list[int]) -> None:
    """A stopping worker frees the messages it claimed but will not finish: another worker
    takes them at once (not after IPN_LEASE_SECONDS), and no attempt is counted."""
    db.session.execute(
        update(Notification)
        .where(Notification.id.in_(ids))
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def release(note: Notification) -> None:
    note.lease_owner = note.lease_until = None
