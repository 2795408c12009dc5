"""The inbox worker: verify each claimed message once, then apply it; retry, then flag.

Verification and application are separate steps with their own attempt budgets: a
verified message keeps its verification and is never sent to PayPal again, however
often applying it has to be retried. No database transaction is held across a call
to PayPal.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app

from models import Notification, db

from ..billing.statuses import OPEN_NOTIFICATION, NotificationStatus
from ..clock import now as clock_now
from ..flags import raise_flag
from .apply import Deferred, Flagged, apply, describe
from .channels import Outcome, Received, adapter_for
from .leases import claim, release

VERIFIED = "VERIFIED"


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes, at most an hour."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), timedelta(hours=1))


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


def received(note: Notification) -> Received:
    return Received(
        id=note.id,
        channel=note.channel,
        body=note.body,
        headers=note.headers or {},
        received_at=note.received_at,
    )


def process(note_id: int) -> None:
    """Verify (once) and apply a claimed message; any failure leaves it to be retried."""
    note = db.session.get(Notification, note_id)
    if note is None or note.status not in OPEN_NOTIFICATION:
        return
    if note.verification != VERIFIED and not _verify(note_id):
        return
    _apply(note_id)


def _verify(note_id: int) -> bool:
    """The verify step; True when the message may be applied now."""
    note = db.session.get(Notification, note_id)
    assert note is not None
    try:
        adapter = adapter_for(note.channel)
        message = received(note)
        db.session.commit()  # hold no transaction across the HTTP call
        verdict = adapter.verify(message)
    except Exception as e:  # a bug in a channel: keep the message, retry, then flag
        db.session.rollback()
        current_app.logger.exception("verifying notification %s failed", note_id)
        _retry(
            _reload(note_id),
            f"verification: {type(e).__name__}: {e}",
            clock_now(),
            flag_kind="verification",
        )
        return False
    note, now = _reload(note_id), clock_now()
    note.verification = verdict.detail[:200]
    if verdict.outcome is Outcome.INVALID:
        _finish(
            note,
            NotificationStatus.INVALID,
            f"PayPal answered {verdict.detail}: not sent by PayPal or altered; kept, no effect",
            now,
        )
        return False
    if verdict.outcome is Outcome.RETRY:
        _retry(note, f"postback: {verdict.detail}", now, flag_kind="postback")
        return False
    note.verification, note.verified_at = VERIFIED, now
    note.attempts = 0  # applying gets its own budget
    db.session.commit()
    return True


def _apply(note_id: int) -> None:
    """The apply step: interpret, label, check, apply; each outcome committed on its own."""
    note, now = _reload(note_id), clock_now()
    try:
        meaning = adapter_for(note.channel).interpret(received(note))
        describe(note, meaning)  # keep type/ids for the admin log even if applying fails
        db.session.commit()
        outcome = apply(note, meaning, now).outcome
    except Flagged as e:
        db.session.rollback()
        note = _reload(note_id)
        raise_flag(
            e.kind, str(e), now, notification_id=note.id, subscription_id=note.subscription_id
        )
        _finish(note, NotificationStatus.FLAGGED, f"flagged ({e.kind}): {e}; no effect", now)
        return
    except Deferred as e:
        db.session.rollback()
        note = _reload(note_id)
        note.waiting_for = e.waiting_for
        _retry(note, str(e), now, flag_kind="orphan")
        return
    except Exception as e:  # a bug or an outage: keep the message, retry, then flag
        db.session.rollback()
        current_app.logger.exception("processing notification %s failed", note_id)
        _retry(_reload(note_id), f"{type(e).__name__}: {e}", now, flag_kind="processing")
        return
    _finish(note, NotificationStatus.PROCESSED, outcome, now)


def _reload(note_id: int) -> Notification:
    note = db.session.get(Notification, note_id)
    assert note is not None  # notifications are never deleted
    return note


def _finish(note: Notification, status: NotificationStatus, outcome: str, now: datetime) -> None:
    note.status, note.outcome, note.processed_at = status, outcome, now
    release(note)
    db.session.commit()


def _retry(note: Notification, reason: str, now: datetime, flag_kind: str) -> None:
    note.attempts += 1
    note.error = reason[:2000]
    release(note)
    if note.attempts >= int(current_app.config["IPN_MAX_ATTEMPTS"]):
        note.status, note.processed_at = NotificationStatus.FLAGGED, now
        note.outcome = f"gave up after {note.attempts} attempts: {reason}"
        raise_flag(
            flag_kind,
            f"message {note.id}: {reason} (after {note.attempts} attempts)",
            now,
            notification_id=note.id,
        )
    else:
        note.status, note.next_attempt_at = NotificationStatus.RETRY, now + backoff(note.attempts)
    db.session.commit()


def reprocess(note: Notification, now: datetime) -> None:
    """Admin: put a flagged or invalid message back in the queue (verification is kept)."""
    if note.status in OPEN_NOTIFICATION:
        raise ValueError("this message is already waiting to be processed")
    if note.status is NotificationStatus.PROCESSED:
        raise ValueError("this message was applied; re-processing would change nothing")
    note.status, note.next_attempt_at, note.attempts = NotificationStatus.PENDING, now, 0
    note.error = None
    if note.verification != VERIFIED:
        note.verification = None
