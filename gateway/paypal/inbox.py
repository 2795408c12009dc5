"""The IPN inbox worker: claim due messages safely across processes, verify, apply, retry.

Claims are leases: on PostgreSQL rows are picked with FOR UPDATE SKIP LOCKED, on SQLite
by a conditional UPDATE; either way a crashed worker's lease runs out and the message
is claimed again. No database transaction is held open across the postback.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Optional

from flask import current_app
from sqlalchemy import or_, select, update

from models import Notification, db

from ..clock import now as clock_now
from ..flags import raise_flag
from ..paypal_urls import endpoints
from .apply import Deferred, Flagged, apply_ipn, describe
from .postback import PostbackVerifier

OPEN = ("pending", "retry")


def verifier() -> PostbackVerifier:
    """The app's verifier (tests may put their own in app.extensions)."""
    app = current_app
    if "ipn_verifier" not in app.extensions:
        app.extensions["ipn_verifier"] = PostbackVerifier(
            endpoints(app.config)["postback"], float(app.config["PAYPAL_TIMEOUT"]))
    return app.extensions["ipn_verifier"]


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes, at most an hour."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), timedelta(hours=1))


def claim(now: datetime, limit: int = 20, only_id: Optional[int] = None) -> list[int]:
    """Lease up to `limit` due messages to this worker; returns their ids."""
    owner = uuid.uuid4().hex
    until = now + timedelta(seconds=int(current_app.config["IPN_LEASE_SECONDS"]))
    free = or_(Notification.lease_until.is_(None), Notification.lease_until < now)
    due = select(Notification.id).where(Notification.status.in_(OPEN),
                                        Notification.next_attempt_at <= now, free)
    if only_id is not None:
        due = due.where(Notification.id == only_id)
    due = due.order_by(Notification.id).limit(limit)
    if db.engine.dialect.name == "postgresql":
        ids = list(db.session.scalars(due.with_for_update(skip_locked=True)))
        if ids:
            db.session.execute(update(Notification).where(Notification.id.in_(ids))
                               .values(lease_owner=owner, lease_until=until))
    else:
        ids = []
        for candidate in db.session.scalars(due).all():
            result = db.session.execute(
                update(Notification).where(Notification.id == candidate, free)
                .values(lease_owner=owner, lease_until=until))
            if result.rowcount == 1:
                ids.append(candidate)
    db.session.commit()
    return ids


def process_due(limit: int = 50) -> int:
    """Claim and process what is due now; returns how many messages were handled."""
    ids = claim(clock_now(), limit)
    for note_id in ids:
        process(note_id)
    return len(ids)


def process_one(note_id: int) -> bool:
    """Process one message now if nobody else holds it (the inline path after the 200)."""
    if claim(clock_now(), 1, only_id=note_id):
        process(note_id)
        return True
    return False


def process(note_id: int) -> None:
    """Verify (once) and apply a claimed message; any failure leaves it to be retried."""
    note = db.session.get(Notification, note_id)
    if note is None or note.status not in OPEN:
        return
    if note.verification != "VERIFIED":
        body = note.body
        db.session.commit()                        # hold no transaction across the HTTP call
        answer = verifier().verify(body)
        note = db.session.get(Notification, note_id)
        now = clock_now()
        note.verification = answer[:200]
        if answer == "INVALID":
            _finish(note, "invalid", "PayPal answered INVALID: not sent by PayPal or altered; "
                                     "kept, no effect", now)
            return
        if answer != "VERIFIED":
            _retry(note, f"postback: {answer}", now, flag_kind="postback")
            return
        note.verified_at = now
        db.session.commit()
    now = clock_now()
    msg = describe(note)    # keep type/ids for the admin log even if applying fails below
    db.session.commit()
    try:
        outcome = apply_ipn(note, msg, now)
    except Flagged as e:
        db.session.rollback()
        note = db.session.get(Notification, note_id)
        raise_flag(e.kind, str(e), now, notification_id=note.id,
                   subscription_id=note.subscription_id)
        _finish(note, "flagged", f"flagged ({e.kind}): {e}; no effect", now)
        return
    except Deferred as e:
        waiting = note.waiting_for
        db.session.rollback()
        note = db.session.get(Notification, note_id)
        note.waiting_for = waiting
        _retry(note, str(e), now, flag_kind="orphan")
        return
    except Exception as e:  # a bug or an outage: keep the message, retry, then flag
        db.session.rollback()
        current_app.logger.exception("processing notification %s failed", note_id)
        note = db.session.get(Notification, note_id)
        _retry(note, f"{type(e).__name__}: {e}", now, flag_kind="processing")
        return
    _finish(note, "processed", outcome, now)


def _finish(note: Notification, status: str, outcome: str, now: datetime) -> None:
    note.status, note.outcome, note.processed_at = status, outcome, now
    note.lease_owner = note.lease_until = None
    db.session.commit()


def _retry(note: Notification, reason: str, now: datetime, flag_kind: str) -> None:
    note.attempts += 1
    note.error = reason[:2000]
    note.lease_owner = note.lease_until = None
    if note.attempts >= int(current_app.config["IPN_MAX_ATTEMPTS"]):
        note.status, note.processed_at = "flagged", now
        note.outcome = f"gave up after {note.attempts} attempts: {reason}"
        raise_flag(flag_kind, f"message {note.id}: {reason} (after {note.attempts} attempts)",
                   now, notification_id=note.id)
    else:
        note.status, note.next_attempt_at = "retry", now + backoff(note.attempts)
    db.session.commit()


def reprocess(note: Notification, now: datetime) -> None:
    """Admin: put a flagged or invalid message back in the queue (verification is kept)."""
    if note.status in OPEN:
        raise ValueError("this message is already waiting to be processed")
    if note.status == "processed":
        raise ValueError("this message was applied; re-processing would change nothing")
    note.status, note.next_attempt_at, note.attempts = "pending", now, 0
    note.error = None
    if note.verification != "VERIFIED":
        note.verification = None
