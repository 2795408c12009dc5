"""Refunds and reversals whose payment never came.

Such a message waits in `deferred` (worker._defer) and is woken when its payment arrives.
If the payment never does (it was made before Tollgate ran, its message was lost, it was
recorded under another id), the message would wait forever in silence: after
DEFERRED_FLAG_AFTER_HOURS a flag shows what is known, and an admin matches it to one of
our payments (it is then applied to that payment) or dismisses it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, cast, exists, literal, select

from models import Flag, Notification, Payment, User, db

from ..billing.rules.interpretation import Interpretation
from ..billing.rules.statuses import NotificationStatus
from ..billing.rules.timetext import utc_text
from ..records.audit import audit
from ..records.flags import raise_flag, resolve
from .claims import release
from .reading import read

#: The kind of flag a message waiting too long raises.
KIND = "deferred"
#: Messages flagged per run (the next run takes the rest).
BATCH = 200


def flag_key(note_id: int) -> str:
    return f"{KIND}:{note_id}"


def flag_overdue(now: datetime, after: timedelta) -> str:
    """Flag (once each) deferred messages received more than `after` ago, and close the
    flags of messages that have since been applied (their payment came after all)."""
    key = literal(f"{KIND}:", String) + cast(Notification.id, String)
    notes = db.session.scalars(
        select(Notification)
        .where(
            Notification.status == NotificationStatus.DEFERRED,
            Notification.received_at <= now - after,
            ~exists().where(Flag.key == key),
        )
        .order_by(Notification.id)
        .limit(BATCH)
    ).all()
    for note in notes:
        raise_flag(
            KIND,
            describe_waiting(note, read(note)),
            now,
            notification_id=note.id,
            key=flag_key(note.id),
        )
    settled = settle_flags(now)
    db.session.commit()
    return f"{len(notes)} refund(s) waiting too long flagged, {settled} flag(s) settled"


def describe_waiting(note: Notification, meaning: Interpretation) -> str:
    """What is known about a waiting refund, for the admin deciding about it."""
    money = meaning.money
    amount = f"{money.gross} {money.currency}" if money and money.gross is not None else "?"
    payer = meaning.payer_email or meaning.payer_name or "an unknown payer"
    return (
        f"{meaning.status or meaning.event or 'A refund'} {amount} from {payer} "
        f"(PayPal transaction {meaning.txn_id or '?'}, message {note.id}) has waited since "
        f"{utc_text(note.received_at)} for its payment {meaning.parent_txn_id or '?'}, "
        "which has not arrived. Match it to one of our payments (it is then applied to "
        "that payment's subscription), or dismiss it."
    )


def settle_flags(now: datetime) -> int:
    """Open flags of this kind whose message was applied: the payment came after all (a
    check that failed then raised a flag of its own)."""
    done = (NotificationStatus.PROCESSED, NotificationStatus.FLAGGED)
    rows = db.session.execute(
        select(Flag, Notification.status)
        .join(Notification, Notification.id == Flag.notification_id)
        .where(Flag.kind == KIND, Flag.resolved_at.is_(None), Notification.status.in_(done))
    ).all()
    for flag, status in rows:
        flag.resolved_at = now
        flag.resolution = f"settled by itself: the message is now {status}"
    return len(rows)


def match(note: Notification, txn_id: str, admin: User, reason: str, now: datetime) -> Payment:
    """Apply a waiting refund to our payment `txn_id` instead of the one it names; raises
    ValueError (said to the admin) when it cannot be."""
    if note.status is not NotificationStatus.DEFERRED:
        raise ValueError(f"message {note.id} no longer waits for a payment (it is {note.status})")
    meaning = read(note)
    payment = db.session.scalar(select(Payment).where(Payment.txn_id == txn_id.strip()))
    if payment is None:
        raise ValueError(f"we have no payment {txn_id.strip()[:64]!r}")
    currency = meaning.money.currency if meaning.money else ""
    if currency and currency.upper() != payment.currency.upper():
        raise ValueError(
            f"the message is in {currency} and payment {payment.txn_id} in {payment.currency}"
        )
    note.matched_txn_id = note.waiting_for = payment.txn_id
    note.status, note.next_attempt_at, note.attempts = NotificationStatus.PENDING, now, 0
    release(note)
    for flag in _open_flags(note):
        resolve(flag, admin, f"matched to payment {payment.txn_id}: {reason}", now)
    audit(
        admin,
        "match-refund",
        "notification",
        note.id,
        now=now,
        reason=reason,
        details={"payment": payment.txn_id, "named": meaning.parent_txn_id},
    )
    return payment


def dismiss(note: Notification, flag: Flag, admin: User, reason: str, now: datetime) -> None:
    """Resolve the flag; a message still waiting stops waiting (flagged, no effect: an
    admin may re-process it from its page)."""
    resolve(flag, admin, f"dismissed: {reason}", now)
    if note.status is NotificationStatus.DEFERRED:
        note.status, note.processed_at = NotificationStatus.FLAGGED, now
        note.outcome = f"dismissed by an admin while waiting for payment {note.waiting_for}"
        release(note)
    audit(admin, "dismiss-flag", "notification", note.id, now=now, reason=reason)


def _open_flags(note: Notification) -> list[Flag]:
    return list(
        db.session.scalars(
            select(Flag).where(Flag.notification_id == note.id, Flag.resolved_at.is_(None))
        )
    )
