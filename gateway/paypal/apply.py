"""Apply one verified IPN: checks, find or create its subscription, store facts, recompute.

All effects go through unique keys in the database, so applying a message twice, or two
copies at once, has one effect.
"""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from models import Checkout, Notification, Payment, Plan, Subscription, db

from .. import subscriptions as service
from ..billing.checks import check_amount, check_receiver, check_sandbox
from ..billing.ipn import Interpretation, IpnMessage, PaymentInfo, decode_body, interpret
from ..flags import raise_flag
from ..paypal_urls import accepts_test_messages


class Flagged(Exception):
    """A check failed: no effect, and a flag for an admin."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Deferred(Exception):
    """Not yet applicable (a refund whose payment we have not seen); try again later."""


def describe(note: Notification) -> IpnMessage:
    """Parse the stored body and copy the filterable fields onto the row."""
    msg = IpnMessage(decode_body(note.body)[0])
    note.txn_type = _clip(msg.txn_type, 64)
    note.txn_id = _clip(msg.get("txn_id"), 64)
    note.payment_status = _clip(msg.payment_status, 32)
    note.subscr_id = _clip(msg.subscription_ref, 64)
    return msg


def _clip(value: str, length: int) -> str | None:
    return value[:length] or None


def apply_ipn(note: Notification, msg: IpnMessage, now: datetime) -> str:
    """Apply a verified message (parsed by `describe`); returns the outcome sentence.

    Raises Flagged / Deferred.
    """
    cfg = current_app.config
    for kind, problem in (
            ("receiver", check_receiver(msg, cfg["PAYPAL_BUSINESS"], cfg["PAYPAL_RECEIVER_ID"])),
            ("sandbox", check_sandbox(msg, accepts_test_messages(cfg)))):
        if problem:
            raise Flagged(kind, problem)
    try:
        meaning = interpret(msg, note.received_at)
    except ValueError as e:
        raise Flagged("unreadable", f"cannot read the message: {e}") from None
    if not meaning.relevant:
        return meaning.summary

    sub = _subscription_for(msg, meaning, note, now)
    if meaning.payment is not None and meaning.payment.status == "Completed":
        problem = check_amount(msg, sub.plan.price, sub.plan.currency, sub.plan.code)
        if problem:
            raise Flagged("amount", problem)
    added = [service.record_fact(sub, fact, source="ipn", now=now, notification_id=note.id)
             for fact in meaning.facts]
    if meaning.payment is not None:
        _record_payment(sub, meaning.payment, now)
    service.recompute(sub, now)
    note.subscription_id = sub.id
    if meaning.payment is not None:  # refunds that came first can go now
        db.session.execute(update(Notification).where(
            Notification.waiting_for == meaning.payment.txn_id, Notification.status == "retry")
            .values(next_attempt_at=now))
    new = any(added) or not meaning.facts
    until = f"{sub.access_until:%Y-%m-%d %H:%M} UTC" if sub.access_until else "none"
    return (f"{meaning.summary}{'' if new else ' (already applied: no change)'}; "
            f"subscription {sub.id} {sub.state}, access until {until}")


def _subscription_for(msg: IpnMessage, meaning: Interpretation, note: Notification,
                      now: datetime) -> Subscription:
    if meaning.parent_txn_id:
        payment = db.session.scalar(select(Payment).where(Payment.txn_id == meaning.parent_txn_id))
        if payment is None:
            note.waiting_for = meaning.parent_txn_id
            raise Deferred(f"waiting for payment {meaning.parent_txn_id} to arrive")
        note.waiting_for = None
        return db.session.get(Subscription, payment.subscription_id)
    ref = msg.subscription_ref
    if not ref:
        raise Flagged("unreadable", "the message names no subscription (subscr_id)")
    sub = db.session.scalar(select(Subscription).where(Subscription.paypal_id == ref))
    return sub or _create_subscription(ref, msg, note, now)


def _create_subscription(ref: str, msg: IpnMessage, note: Notification,
                         now: datetime) -> Subscription:
    """The first message about a subscription creates its row, whichever message it is."""
    checkout = None
    if msg.custom:
        checkout = db.session.scalar(select(Checkout).where(Checkout.token == msg.custom))
    code = msg.get("item_number")
    plan = db.session.scalar(select(Plan).where(Plan.code == code)) if code else None
    if plan is None and not code and checkout is not None:
        plan = checkout.plan
    if plan is None:
        raise Flagged("plan", f"unknown plan: item_number {code!r} names no plan")
    if checkout is not None and checkout.plan_id != plan.id:
        raise Flagged("plan", f"checkout {checkout.token} was for plan {checkout.plan.code}, "
                              f"the message is for {plan.code}")
    if checkout is not None and checkout.subscription_id is not None:
        checkout = None   # a token already used: do not let it claim a second subscription
        claim_problem = f"checkout token {msg.custom!r} already linked to another subscription"
    else:
        claim_problem = (f"no open checkout for custom={msg.custom!r}" if checkout is None
                         else "")
    sub = Subscription(paypal_id=ref, plan_id=plan.id, state="pending", created_at=now,
                       updated_at=now, user_id=checkout.user_id if checkout else None)
    try:
        with db.session.begin_nested():
            db.session.add(sub)
    except IntegrityError:   # another worker created it a moment ago
        return db.session.scalar(select(Subscription).where(Subscription.paypal_id == ref))
    if checkout is not None:
        checkout.status, checkout.completed_at, checkout.subscription_id = "completed", now, sub.id
    else:
        raise_flag("unclaimed", f"subscription {ref} could not be tied to a member "
                                f"({claim_problem}); attach it to one", now,
                   notification_id=note.id, subscription_id=sub.id)
    return sub


def _record_payment(sub: Subscription, info: PaymentInfo, now: datetime) -> None:
    """One row per PayPal transaction; its status is derived from facts in recompute."""
    if db.session.scalar(select(Payment.id).where(Payment.txn_id == info.txn_id)) is not None:
        return
    try:
        with db.session.begin_nested():
            db.session.add(Payment(subscription_id=sub.id, txn_id=info.txn_id,
                                   status=info.status, amount=abs(info.amount),
                                   currency=info.currency or sub.plan.currency,
                                   fee=abs(info.fee) if info.fee is not None else None,
                                   paid_at=info.at, created_at=now))
    except IntegrityError:
        pass

