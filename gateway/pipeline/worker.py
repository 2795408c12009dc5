"""The inbox worker: claim a batch, verify its unverified messages concurrently, then apply
each message in its own transaction; retry with backoff, then flag.

Verification and application are separate steps with their own attempt budgets: a
verified message keeps its verification and is never sent to PayPal again, however
often applying it has to be retried. No database transaction is open while PayPal is
asked; many postbacks are in flight at once, each bounded in time, so a batch always
finishes well inside its lease. Any exception is caught at the step and message where it
happens, so one bad message never holds up the others claimed with it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select

from models import Notification, db

from ..billing.interpretation import Interpretation
from ..billing.statuses import OPEN_NOTIFICATION, NotificationStatus
from ..clock import now as clock_now
from ..database import lock_key
from ..flags import raise_flag
from .apply import Deferred, Flagged, apply, describe, payment_exists, payment_key
from .channels import Outcome, Received, Verdict, adapter_for
from .leases import claim, release

VERIFIED = "VERIFIED"
#: A deferred message is woken by its parent; this re-check is only a safety net.
DEFERRED_RECHECK = timedelta(hours=6)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes, at most an hour."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), timedelta(hours=1))


def verify_budget(cfg: Mapping[str, Any]) -> float:
    """Seconds a batch's verification may take: rounds of postbacks, each time-limited."""
    rounds = math.ceil(int(cfg["INBOX_BATCH_SIZE"]) / int(cfg["INBOX_VERIFY_CONCURRENCY"]))
    return rounds * (float(cfg["PAYPAL_TIMEOUT"]) + 1)


def process_due(limit: int | None = None) -> int:
    """Claim and process what is due now; returns how many messages were handled."""
    size = limit or int(current_app.config["INBOX_BATCH_SIZE"])
    ids = claim(clock_now(), size)
    if ids:
        process_batch(ids)
    return len(ids)


def process_one(note_id: int) -> bool:
    """Process one message now if nobody else holds it (admin and tests)."""
    if claim(clock_now(), 1, only_id=note_id):
        process_batch([note_id])
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


def process_batch(ids: Sequence[int]) -> None:
    """Verify what needs it (all at once), then apply each verified message in turn."""
    notes = _load(ids)
    open_ = [n for n in notes if n.status in OPEN_NOTIFICATION]
    to_verify = [received(n) for n in open_ if n.verification != VERIFIED]
    ready = [n.id for n in open_ if n.verification == VERIFIED]
    db.session.commit()  # hold no transaction across the calls to PayPal
    if to_verify:
        ready += _record_verdicts(_verify_all(to_verify))
    for note_id in sorted(ready):
        _apply(note_id)


def _load(ids: Sequence[int]) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification).where(Notification.id.in_(ids)).order_by(Notification.id)
        )
    )


# --- the verify step -----------------------------------------------------------------


def _pool(app: Flask) -> ThreadPoolExecutor:
    pool: ThreadPoolExecutor | None = app.extensions.get("inbox_verify_pool")
    if pool is None:
        pool = ThreadPoolExecutor(
            max_workers=int(app.config["INBOX_VERIFY_CONCURRENCY"]),
            thread_name_prefix="inbox-verify",
        )
        app.extensions["inbox_verify_pool"] = pool
    return pool


def _verify_one(app: Flask, message: Received) -> Verdict:
    """Runs in a pool thread: HTTP only, no database."""
    with app.app_context():
        try:
            return adapter_for(message.channel).verify(message)
        except Exception as e:  # a bug in a channel: retried, then flagged
            app.logger.exception("verifying notification %s failed", message.id)
            return Verdict.retry(f"verification: {type(e).__name__}: {e}")


def _verify_all(messages: Sequence[Received]) -> dict[int, Verdict]:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    pool = _pool(app)
    futures: dict[int, Future[Verdict]] = {m.id: pool.submit(_verify_one, app, m) for m in messages}
    deadline = time.monotonic() + verify_budget(app.config)
    verdicts: dict[int, Verdict] = {}
    for note_id, future in futures.items():
        try:
            verdicts[note_id] = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            future.cancel()
            verdicts[note_id] = Verdict.retry("no answer within the batch's time limit")
    return verdicts


def _record_verdicts(verdicts: dict[int, Verdict]) -> list[int]:
    """Store every verdict in one commit; returns the ids that may be applied now."""
    now, ready = clock_now(), []
    for note in _load(list(verdicts)):
        verdict = verdicts[note.id]
        if verdict.outcome is Outcome.VERIFIED:
            note.verification, note.verified_at = VERIFIED, now
            note.attempts = 0  # applying gets its own budget
            ready.append(note.id)
        elif verdict.outcome is Outcome.INVALID:
            note.verification = verdict.detail[:200]
            _finish(
                note,
                NotificationStatus.INVALID,
                f"PayPal answered {verdict.detail}: not sent by PayPal or altered; kept, no effect",
                now,
            )
        else:
            note.verification = verdict.detail[:200]
            _retry(note, f"postback: {verdict.detail}", now, flag_kind="postback")
    db.session.commit()
    return ready


# --- the apply step ------------------------------------------------------------------


def _apply(note_id: int) -> None:
    """Interpret, label, check, apply: one transaction and one commit per message."""
    note, now = _reload(note_id), clock_now()
    meaning: Interpretation | None = None
    try:
        meaning = adapter_for(note.channel).interpret(received(note))
        describe(note, meaning)
        outcome = apply(note, meaning, now).outcome
    except Flagged as e:
        note = _restart(note_id, meaning)
        raise_flag(
            e.kind, str(e), now, notification_id=note.id, subscription_id=note.subscription_id
        )
        _finish(note, NotificationStatus.FLAGGED, f"flagged ({e.kind}): {e}; no effect", now)
    except Deferred as e:
        note = _restart(note_id, meaning)
        _defer(note, e.waiting_for, str(e), now)
    except Exception as e:  # a bug or an outage: keep the message, retry, then flag
        current_app.logger.exception("processing notification %s failed", note_id)
        note = _restart(note_id, meaning)
        _retry(note, f"{type(e).__name__}: {e}", now, flag_kind="processing")
    else:
        _finish(note, NotificationStatus.PROCESSED, outcome, now)
    db.session.commit()


def _defer(note: Notification, txn_id: str, reason: str, now: datetime) -> None:
    """Wait for the payment `txn_id`; its arrival wakes this message (no attempt budget).

    The payment's arrival and this deferral take the same lock, and the payment is looked
    for again after writing: either it commits first and is seen here, or it commits after
    and finds this message waiting.
    """
    note.status, note.waiting_for = NotificationStatus.DEFERRED, txn_id
    note.error, note.next_attempt_at = reason, now + DEFERRED_RECHECK
    release(note)
    db.session.flush()
    lock_key(payment_key(txn_id))
    if payment_exists(txn_id):  # it arrived while this message was being tried
        note.next_attempt_at = now


def _restart(note_id: int, meaning: Interpretation | None) -> Notification:
    """Undo the failed attempt, keeping the message's labels for the admin log."""
    db.session.rollback()
    note = _reload(note_id)
    if meaning is not None:
        describe(note, meaning)
    return note


def _reload(note_id: int) -> Notification:
    note = db.session.get(Notification, note_id)
    assert note is not None  # notifications are never deleted
    return note


def _finish(note: Notification, status: NotificationStatus, outcome: str, now: datetime) -> None:
    note.status, note.outcome, note.processed_at = status, outcome, now
    note.error = None if status is NotificationStatus.PROCESSED else note.error
    release(note)


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
