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
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from models import Checkout, Notification, db

from .. import metrics
from ..billing.rules.interpretation import Interpretation
from ..billing.rules.statuses import OPEN_NOTIFICATION, NotificationStatus
from ..channels.seam import VERIFIED, Outcome, Received, Verdict, adapter_for, verify_step
from ..clock import now as clock_now
from ..database import lock_key
from ..records.flags import raise_flag
from ..stopping import Stop
from .apply import Deferred, Flagged, apply, describe, payment_exists, payment_key
from .claims import claim, give_back, release
from .disowned import flag_those_of_ours
from .reading import read as read_note
from .reading import received
from .repeats import repeat_of
from .together import Mismatch, apply_together, issue_receipts

#: A deferred message is woken by its parent; this re-check is only a safety net.
DEFERRED_RECHECK = timedelta(hours=6)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes, at most an hour."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), timedelta(hours=1))


def verify_budget(cfg: Mapping[str, Any]) -> float:
    """Seconds a batch's verification may take: rounds of postbacks, each time-limited."""
    rounds = math.ceil(int(cfg["INBOX_BATCH_SIZE"]) / int(cfg["INBOX_VERIFY_CONCURRENCY"]))
    return rounds * (float(cfg["PAYPAL_TIMEOUT"]) + 1)


def process_one(note_id: int) -> bool:
    """Process one message now if nobody else holds it (admin and tests)."""
    if claim(clock_now(), 1, only_id=note_id):
        process_batch([note_id])
        return True
    return False


@dataclass
class Started:
    """A claimed batch whose postbacks are in flight."""

    known: Collection[object]
    ready: list[int]
    futures: dict[int, Future[Verdict]]
    deadline: float


def process_batch(ids: Sequence[int]) -> int:
    """Verify what needs it (all at once), then apply each verified message in turn."""
    return _finish_batch(_start(ids), None)


def drain(budget: float | None = None, stop: Stop | None = None) -> int:
    """Process batch after batch until nothing is due (or `budget` seconds are spent, or
    `stop` is set: what is claimed then is finished, or given back once its grace is out).

    The next batch's postbacks are sent before the current batch is applied, so PayPal's
    latency overlaps with our own work instead of adding to it.
    """
    size, began, handled = int(current_app.config["INBOX_BATCH_SIZE"]), time.monotonic(), 0

    def next_batch() -> Started | None:
        if budget is not None and time.monotonic() - began >= budget:
            return None
        ids = [] if stop is not None and stop.is_set() else claim(clock_now(), size)
        return _start(ids) if ids else None

    current = next_batch()
    while current is not None:
        following = next_batch()
        handled += _finish_batch(current, stop)
        # What that batch woke (a refund its payment released) is due now: look again.
        current = following or next_batch()
    return handled


def _start(ids: Sequence[int]) -> Started:
    known = set(db.session.identity_map.keys())
    notes = _load(ids)
    open_ = [n for n in notes if n.status in OPEN_NOTIFICATION]
    to_verify = [received(n) for n in open_ if n.verification != VERIFIED]
    ready = [n.id for n in open_ if n.verification == VERIFIED]
    _end_transaction(known)  # hold no transaction across the calls to PayPal
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    pool = _pool(app)
    futures = {m.id: pool.submit(_verify_one, app, m) for m in to_verify}
    return Started(known, ready, futures, time.monotonic() + verify_budget(app.config))


def _finish_batch(batch: Started, stop: Stop | None) -> int:
    ready = list(batch.ready)
    if batch.futures:
        ready += _record_verdicts(_collect(batch, stop or Stop()), batch.known)
    left = _apply_together(sorted(ready), batch.known)
    for note_id in sorted(left):
        _apply(note_id, batch.known, left[note_id])
    return len(batch.futures) + len(batch.ready)


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


def _collect(batch: Started, stop: Stop) -> dict[int, Verdict]:
    """Each postback's verdict; one still unanswered at the batch's deadline is retried.
    Once stopping, one unanswered when the stop's grace runs out is given back instead
    (its lease freed, no attempt counted) and its thread left running (`stop.abandoned`)."""
    stop.wait_futures(batch.futures.values(), batch.deadline)
    verdicts, unanswered = dict[int, Verdict](), list[int]()
    for note_id, future in batch.futures.items():
        if future.done():
            verdicts[note_id] = future.result()
        elif stop.is_set():
            stop.abandoned |= not future.cancel()  # cancel() fails once it is running
            unanswered.append(note_id)
        else:
            future.cancel()
            verdicts[note_id] = Verdict.retry("no answer within the batch's time limit")
    if unanswered:
        give_back(unanswered)
    return verdicts


def _record_verdicts(verdicts: dict[int, Verdict], known: Collection[object]) -> list[int]:
    """Store every verdict in one commit; returns the ids that may be applied now."""
    now, ready = clock_now(), []
    disowned: list[Notification] = []
    unsigned: list[Notification] = []
    for note in _load(list(verdicts)):
        verdict = verdicts[note.id]
        if verdict.outcome is Outcome.VERIFIED:
            note.verification, note.verified_at = VERIFIED, now
            note.attempts = 0  # applying gets its own budget
            ready.append(note.id)
        elif verdict.outcome is Outcome.INVALID:
            note.verification = verdict.detail[:200]
            _finish(note, NotificationStatus.INVALID, _invalid_outcome(verdict), now)
            # Junk, unless it names something of ours (a postback or signing fault?):
            # flagged only then, so a flood of forgeries cannot fill the flags page.
            (unsigned if verdict.flag else disowned).append(note)
        else:
            note.verification = verdict.detail[:200]
            step = verify_step(note.channel)
            _retry(note, f"{step}: {verdict.detail}", now, flag_kind=step)
    flag_those_of_ours(disowned, now)
    flag_those_of_ours(unsigned, now, kind="signature")
    _end_transaction(known)
    return ready


def _invalid_outcome(verdict: Verdict) -> str:
    if verdict.flag:
        return f"rejected ({verdict.detail}): not proven to come from PayPal; kept, no effect"
    return f"PayPal answered {verdict.detail}: not sent by PayPal or altered; kept, no effect"


def _end_transaction(known: Collection[object] = ()) -> None:
    """Commit, and forget the rows loaded since `known` was taken: every commit expires every
    loaded row, so a batch that kept them would grow slower with each message."""
    db.session.commit()
    _forget_since(known)


def _forget_since(known: Collection[object]) -> None:
    for key in [k for k in db.session.identity_map.keys() if k not in known]:  # noqa: SIM118
        obj = db.session.identity_map.get(key)
        if obj is not None:
            db.session.expunge(obj)


# --- the apply step ------------------------------------------------------------------


#: A message's interpretation, or what interpreting it raised (pure: done once a batch).
Reading = Interpretation | Exception


def _apply_together(ids: Sequence[int], known: Collection[object]) -> dict[int, Reading | None]:
    """Apply the batch's common messages in one transaction (pipeline/together.py);
    returns the messages left for the one-by-one path, with their readings. Should
    anything at all go wrong here, it is all rolled back and every message goes one by
    one, where each failure is caught, counted and retried for its own message only."""
    now, items, read = clock_now(), [], dict[int, Reading | None]()
    try:
        with db.session.no_autoflush:
            for note in _load(ids):
                try:
                    read[note.id] = meaning = read_note(note)
                    describe(note, meaning)
                except Exception as e:  # the one-by-one path records what went wrong
                    read[note.id] = e
                    continue
                items.append((note, meaning))
            result = apply_together(items, now)
            for note, applied in result.applied:
                _close(note, NotificationStatus.PROCESSED, applied.outcome, now)
                del read[note.id]
            # Read before the commit expires them (after it, each would be a query).
            waited = [(n.channel, (now - n.received_at).total_seconds()) for n, _ in result.applied]
        issue_receipts(result, now)  # last: the receipt counter's lock is held to the commit only
        db.session.commit()
    except Exception as e:
        db.session.rollback()
        _forget_since(known)
        # A deadlock or a row written by someone else is expected now and then; a bug is not.
        expected = isinstance(e, DBAPIError | Mismatch)
        log = current_app.logger.info if expected else current_app.logger.exception
        log("applying %d messages together failed (%s); applying one by one", len(ids), e)
        return {note_id: read.get(note_id) for note_id in ids}
    for channel, seconds in waited:
        metrics.message_finished(channel, NotificationStatus.PROCESSED, seconds)
    _forget_since(known)
    return read


def _apply(note_id: int, known: Collection[object], reading: Reading | None = None) -> None:
    """Interpret (unless `reading` has it), label, check, apply: one transaction and one
    commit per message."""
    note, now = _reload(note_id), clock_now()
    meaning: Interpretation | None = None
    try:
        with db.session.no_autoflush:  # one UPDATE per row at commit, not one per query
            if isinstance(reading, Exception):
                raise reading
            meaning = reading or read_note(note)
            describe(note, meaning)
            outcome = repeat_of(note) or apply(note, meaning, now).outcome
    except Flagged as e:
        note = _restart(note_id, meaning)
        raise_flag(
            e.kind, str(e), now, notification_id=note.id, subscription_id=note.subscription_id
        )
        if e.member_message and meaning is not None and meaning.member_token:
            db.session.execute(
                update(Checkout)
                .where(Checkout.token == meaning.member_token)
                .values(problem=e.member_message)
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
    _end_transaction(known)


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
    _close(note, status, outcome, now)
    _count(note, now)


def _close(note: Notification, status: NotificationStatus, outcome: str, now: datetime) -> None:
    note.status, note.outcome, note.processed_at = status, outcome, now
    note.error = None if status is NotificationStatus.PROCESSED else note.error
    release(note)


def _count(note: Notification, now: datetime) -> None:
    metrics.message_finished(note.channel, note.status, (now - note.received_at).total_seconds())


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
    metrics.message_finished(note.channel, note.status, (now - note.received_at).total_seconds())


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
