"""Messages PayPal disowned (answered INVALID) that name something of ours.

Most INVALID answers are junk and stay in the log without a flag. But a postback fault
can make PayPal disown a genuine message, and a genuine refund answered INVALID would
then never be applied: one that names one of our subscriptions, payments or checkouts
raises a flag, and an admin re-verifies it, applies it after checking it at PayPal, or
dismisses the flag.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import select

from models import Checkout, Flag, Notification, Payment, Subscription, User, db

from ..billing.rules.interpretation import Interpretation
from ..billing.rules.statuses import NotificationStatus
from ..channels.seam import VERIFIED
from ..records.audit import audit
from ..records.flags import raise_flag, resolve
from .apply import describe
from .claims import release
from .reading import read

#: The kind of flag an INVALID message naming something of ours raises.
KIND = "invalid"
#: Flags whose message an admin may re-verify or accept (a webhook whose signature
#: failed names what it names just the same).
DISOWNED_KINDS = (KIND, "signature")


def flag_if_ours(note: Notification, now: datetime) -> Flag | None:
    """Raise a flag if the disowned message names a subscription, payment or checkout of
    ours; at most one open flag per subscription, so a flood of forgeries naming one
    subscription is one flag (the others stay in the message log)."""
    try:
        meaning = read(note)
    except Exception:  # a body no channel can read names nothing
        current_app.logger.exception("reading disowned message %s failed", note.id)
        return None
    describe(note, meaning)  # its labels, so the admin log finds it by txn or subscription
    named, sub_id = ours(meaning)
    if not named:
        return None
    if sub_id is not None and _open_flag_about(sub_id):
        return None
    return raise_flag(
        KIND,
        f"PayPal answered {note.verification or 'INVALID'} to message {note.id} "
        f"({_what(meaning)}), which names {', '.join(named)}. A postback fault can "
        "disown a genuine message: check it at PayPal, then re-verify it or apply it; "
        "or dismiss this flag.",
        now,
        notification_id=note.id,
        subscription_id=sub_id,
    )


def ours(meaning: Interpretation) -> tuple[list[str], int | None]:
    """What of ours the message names (in words), and the subscription it concerns."""
    named: list[str] = []
    sub_id: int | None = None
    if meaning.subscription_ref:
        found = db.session.scalar(
            select(Subscription.id).where(Subscription.paypal_id == meaning.subscription_ref)
        )
        if found is not None:
            named.append(f"our subscription {meaning.subscription_ref}")
            sub_id = found
    for txn in dict.fromkeys(t for t in (meaning.txn_id, meaning.parent_txn_id) if t):
        paid = db.session.scalar(select(Payment.subscription_id).where(Payment.txn_id == txn))
        if paid is not None:
            named.append(f"our payment {txn}")
            sub_id = sub_id if sub_id is not None else paid
    if meaning.member_token:
        checkout = db.session.execute(
            select(Checkout.id, Checkout.subscription_id).where(
                Checkout.token == meaning.member_token
            )
        ).first()
        if checkout is not None:
            named.append(f"our checkout {meaning.member_token}")
            sub_id = sub_id if sub_id is not None else checkout.subscription_id
    return named, sub_id


def _what(meaning: Interpretation) -> str:
    money = meaning.money
    amount = f" {money.gross} {money.currency}" if money and money.gross is not None else ""
    who = f" from {meaning.payer_email}" if meaning.payer_email else ""
    txn = f", transaction {meaning.txn_id}" if meaning.txn_id else ""
    return f"{meaning.event or 'no type'} {meaning.status}{amount}{who}{txn}".replace("  ", " ")


def _open_flag_about(sub_id: int) -> bool:
    return (
        db.session.scalar(
            select(Flag.id)
            .where(Flag.kind == KIND, Flag.subscription_id == sub_id, Flag.resolved_at.is_(None))
            .limit(1)
        )
        is not None
    )


def accept(note: Notification, admin: User, reason: str, now: datetime) -> None:
    """The admin checked the message at PayPal: apply it as verified (audited with who
    vouched for it and why); raises ValueError when it is not a disowned message."""
    if note.status is not NotificationStatus.INVALID:
        raise ValueError(f"message {note.id} is {note.status}, not invalid")
    previous = note.verification
    note.verification, note.verified_at = VERIFIED, now
    note.status, note.next_attempt_at, note.attempts = NotificationStatus.PENDING, now, 0
    note.error = None
    release(note)
    audit(
        admin,
        "accept-disowned",
        "notification",
        note.id,
        now=now,
        reason=reason,
        details={"answer": previous},
    )


def resolve_open(note: Notification, admin: User, resolution: str, now: datetime) -> int:
    """Resolve the message's open flags of the disowned kinds (an admin decided)."""
    flags = db.session.scalars(
        select(Flag).where(
            Flag.notification_id == note.id,
            Flag.kind.in_(DISOWNED_KINDS),
            Flag.resolved_at.is_(None),
        )
    ).all()
    for flag in flags:
        resolve(flag, admin, resolution, now)
    return len(flags)
