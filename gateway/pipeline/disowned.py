"""Messages PayPal disowned (answered INVALID) that name something of ours.

Most INVALID answers are junk and stay in the log without a flag. But a postback fault
can make PayPal disown a genuine message, and a genuine refund answered INVALID would
then never be applied: one that names one of our subscriptions, payments or checkouts
raises a flag, and an admin re-verifies it, applies it after checking it at PayPal, or
dismisses the flag.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


def flag_those_of_ours(notes: Sequence[Notification], now: datetime, kind: str = KIND) -> int:
    """Flag each disowned message that names a subscription, payment or checkout of ours;
    returns how many were flagged. Set-based (three lookups for a whole batch), since a
    flood of forgeries comes this way; at most one open flag per subscription, so a flood
    naming one subscription is one flag (the others stay in the message log). `kind` is
    "signature" for webhooks whose signature failed: forged ones naming nothing of ours
    would otherwise fill the flags page one by one."""
    readings = []
    for note in notes:
        try:
            meaning = read(note)
        except Exception:  # a body no channel can read names nothing
            current_app.logger.exception("reading disowned message %s failed", note.id)
            continue
        describe(note, meaning)  # its labels, so the admin log finds it by txn or subscription
        readings.append((note, meaning))
    known = _Known.of([m for _, m in readings], kind)
    flagged = 0
    for note, meaning in readings:
        named, sub_id = known.named_by(meaning)
        if not named or (sub_id is not None and sub_id in known.flagged):
            continue
        verdict = (
            f"PayPal answered {note.verification or 'INVALID'} to"
            if kind == KIND
            else f"The {note.verification or 'signature'} check failed for"
        )
        raise_flag(
            kind,
            f"{verdict} message {note.id} ({_what(meaning)}), which names "
            f"{', '.join(named)}. A fault on the way (a postback, a certificate, the webhook "
            "id) can disown a genuine message: check it at PayPal, then re-verify it or "
            "apply it; or dismiss this flag.",
            now,
            notification_id=note.id,
            subscription_id=sub_id,
        )
        flagged += 1
        if sub_id is not None:
            known.flagged.add(sub_id)
    return flagged


@dataclass
class _Known:
    """What of ours a batch of messages names: subscriptions by PayPal id, payments by
    transaction id, checkouts by token (each with its subscription's row id, if any), and
    the subscriptions that already have an open flag of this kind."""

    subscriptions: dict[str, int]
    payments: dict[str, int]
    checkouts: dict[str, int | None]
    flagged: set[int]

    @classmethod
    def of(cls, meanings: Sequence[Interpretation], kind: str = KIND) -> _Known:
        refs = {m.subscription_ref for m in meanings if m.subscription_ref}
        txns = {t for m in meanings for t in (m.txn_id, m.parent_txn_id) if t}
        tokens = {m.member_token for m in meanings if m.member_token}
        known = cls(
            subscriptions=_pairs(Subscription.paypal_id, Subscription.id, refs),
            payments=_pairs(Payment.txn_id, Payment.subscription_id, txns),
            checkouts=_pairs(Checkout.token, Checkout.subscription_id, tokens),
            flagged=set(),
        )
        subs = {*known.subscriptions.values(), *known.payments.values()}
        subs |= {s for s in known.checkouts.values() if s is not None}
        if subs:
            known.flagged = set(
                db.session.scalars(
                    select(Flag.subscription_id).where(
                        Flag.kind == kind,
                        Flag.resolved_at.is_(None),
                        Flag.subscription_id.in_(sorted(subs)),
                    )
                )
            )
        return known

    def named_by(self, meaning: Interpretation) -> tuple[list[str], int | None]:
        """What of ours the message names (in words), and the subscription it concerns."""
        named: list[str] = []
        subs: list[int | None] = []
        if meaning.subscription_ref in self.subscriptions:
            named.append(f"our subscription {meaning.subscription_ref}")
            subs.append(self.subscriptions[meaning.subscription_ref])
        for txn in dict.fromkeys(t for t in (meaning.txn_id, meaning.parent_txn_id) if t):
            if txn in self.payments:
                named.append(f"our payment {txn}")
                subs.append(self.payments[txn])
        if meaning.member_token in self.checkouts:
            named.append(f"our checkout {meaning.member_token}")
            subs.append(self.checkouts[meaning.member_token])
        return named, next((s for s in subs if s is not None), None)


def _pairs(key: Any, value: Any, wanted: set[str]) -> dict[Any, Any]:
    if not wanted:
        return {}
    return dict(db.session.execute(select(key, value).where(key.in_(sorted(wanted)))).all())


def _what(meaning: Interpretation) -> str:
    money = meaning.money
    amount = f" {money.gross} {money.currency}" if money and money.gross is not None else ""
    who = f" from {meaning.payer_email}" if meaning.payer_email else ""
    txn = f", transaction {meaning.txn_id}" if meaning.txn_id else ""
    return f"{meaning.event or 'no type'} {meaning.status}{amount}{who}{txn}".replace("  ", " ")


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
