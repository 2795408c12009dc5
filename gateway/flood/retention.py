"""Messages PayPal did not verify, kept in compact form after a retention period.

A message that ended INVALID (PayPal's postback, or a webhook signature that does not
hold), or flagged without ever being verified, keeps its body and headers for
`INBOX_JUNK_KEEP_HOURS`; then the job drops both and keeps a SHA-256 of the body, its
size, the sender, the times and the outcome. After `INBOX_JUNK_FORGET_DAYS` (0: never)
the compact row itself goes. A verified message is never touched, nor one with an open
flag (an admin may still need its body: reprocess it, compare it), nor one anything
else refers to. Rows of IPN and webhook messages only: those are what strangers can send.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta
from typing import cast

from flask import current_app, g
from sqlalchemy import Table, and_, bindparam, delete, exists, func, select, text, update
from sqlalchemy.sql.elements import ColumnElement

from models import Flag, IntakeRefusal, Notification, SubscriptionFact, SubscriptionTerms, db
from models.notification import COMPACTED_SQL, UNVERIFIED_SQL

from ..billing.rules.statuses import Channel
from ..stopping import Stop

#: Rows compacted or deleted per statement (each batch is its own short transaction).
BATCH = 500
#: A run stops after this many seconds; the next run takes the rest.
BUDGET_SECONDS = 60.0
#: Refusal counts (the status page reads the last hour of them) kept this long.
REFUSALS_KEPT = timedelta(days=30)
STRANGERS = (Channel.IPN, Channel.WEBHOOK)
TABLE = cast(Table, Notification.__table__)


def compact_junk(now: datetime) -> str:
    """The job: compact what is old enough, forget what is older still."""
    config = current_app.config
    keep = timedelta(hours=float(config["INBOX_JUNK_KEEP_HOURS"]))
    forget_days = float(config["INBOX_JUNK_FORGET_DAYS"])
    deadline = time.monotonic() + BUDGET_SECONDS
    stop = g.get("stop")  # the scheduler's Stop (runner.Jobs): a batch ends the run then
    compacted = compact(now - keep, now, deadline, stop)
    forgotten = forget(now - timedelta(days=forget_days), deadline, stop) if forget_days > 0 else 0
    db.session.execute(delete(IntakeRefusal).where(IntakeRefusal.at < now - REFUSALS_KEPT))
    db.session.commit()
    return f"{compacted} unverified message(s) compacted, {forgotten} compact record(s) deleted"


def compact(
    before: datetime, now: datetime, deadline: float | None = None, stop: Stop | None = None
) -> int:
    """Drop the body and headers of unverified messages received before `before`."""
    done = 0
    while _going_on(deadline, stop):
        rows = db.session.execute(
            select(Notification.id, Notification.body)
            .where(
                text(UNVERIFIED_SQL),  # the partial index's condition, word for word
                Notification.received_at < before,
                Notification.channel.in_(STRANGERS),
                ~_open_flag(),
            )
            .order_by(Notification.received_at)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        db.session.execute(
            update(TABLE).where(TABLE.c.id == bindparam("note_id")),
            [
                {
                    "note_id": row.id,
                    "body": b"",
                    "headers": {},
                    "body_sha256": hashlib.sha256(row.body).hexdigest(),
                    "body_size": len(row.body),
                    "compacted_at": now,
                }
                for row in rows
            ],
        )
        db.session.commit()
        done += len(rows)
    return done


def forget(before: datetime, deadline: float | None = None, stop: Stop | None = None) -> int:
    """Delete compact records received before `before` that nothing refers to."""
    done = 0
    while _going_on(deadline, stop):
        ids = db.session.scalars(
            select(Notification.id)
            .where(
                text(COMPACTED_SQL),
                Notification.received_at < before,
                ~exists().where(Flag.notification_id == Notification.id),
                ~exists().where(SubscriptionFact.notification_id == Notification.id),
                ~exists().where(SubscriptionTerms.notification_id == Notification.id),
            )
            .order_by(Notification.received_at)
            .limit(BATCH)
        ).all()
        if not ids:
            break
        db.session.execute(delete(Notification).where(Notification.id.in_(ids)))
        db.session.commit()
        done += len(ids)
    return done


def _going_on(deadline: float | None, stop: Stop | None) -> bool:
    """Another batch: the run's time is not up and the scheduler is not stopping."""
    if stop is not None and stop.is_set():
        return False
    return deadline is None or time.monotonic() < deadline


def _open_flag() -> ColumnElement[bool]:
    return exists().where(and_(Flag.notification_id == Notification.id, Flag.resolved_at.is_(None)))


def junk_bytes() -> tuple[int, int]:
    """(messages, bytes of body) of unverified messages still whole: what the next runs
    will compact (the bench's and the docs' measure of junk's weight)."""
    count, size = db.session.execute(
        select(func.count(), func.coalesce(func.sum(func.length(Notification.body)), 0)).where(
            text(UNVERIFIED_SQL)
        )
    ).one()
    return int(count), int(size)
