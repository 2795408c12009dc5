"""Refunds exactly once: journal, send with PayPal-Request-Id, finish from PayPal's answer.

1. The operation is written and committed before anything is sent: a crash afterwards
   leaves an open operation, never a refund nobody knows of.
2. It is sent with its own PayPal-Request-Id; PayPal performs one refund per id, so
   sending it again (a timeout, a crash before the answer was recorded, the settle job)
   returns that same refund instead of making a second one.
3. PayPal's answer finishes it: the refund's id is stored, the refund is recorded as a
   fact of the subscription (the period it paid for is removed by recompute), and the
   member's notice is queued with that fact.

A double click submits the same form key (one operation); two admins at once meet the
database's "one open refund per payment" index; an amount beyond what is left to refund
is refused under the payment's row lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from models import Payment, RefundOperation, Subscription, SubscriptionFact, User, db

from ..billing.rules.entitlements import refund_identity
from ..billing.rules.facts import Fact, FactKind
from ..billing.rules.statuses import OperationStatus, PaymentStatus
from ..paypal.api import ApiError, api_client
from ..records.audit import audit
from ..subscriptions import notices, service

#: While a request is in flight the settle job leaves the operation alone this long.
IN_FLIGHT = timedelta(minutes=2)
MAX_BACKOFF = timedelta(hours=1)


class RefundRefused(Exception):
    """The refund cannot be asked for (nothing left to refund, one already in progress)."""


@dataclass(frozen=True)
class Refundable:
    paid: Decimal
    refunded: Decimal  # by PayPal's messages and by our finished operations
    left: Decimal


def refundable(payment: Payment) -> Refundable:
    """What is left to refund of a payment: PayPal's reported refunds and ours, each once."""
    reported = db.session.execute(
        select(SubscriptionFact.key, SubscriptionFact.amount).where(
            SubscriptionFact.subscription_id == payment.subscription_id,
            SubscriptionFact.kind == FactKind.REFUNDED.value,
            SubscriptionFact.txn_id == payment.txn_id,
        )
    ).all()
    by_refund = {refund_identity(key): abs(amount or payment.amount) for key, amount in reported}
    ours = db.session.execute(
        select(RefundOperation.paypal_refund_id, RefundOperation.amount).where(
            RefundOperation.payment_id == payment.id,
            RefundOperation.status == OperationStatus.DONE,
        )
    ).all()
    for refund_id, amount in ours:
        by_refund.setdefault(str(refund_id), amount)
    refunded = min(sum(by_refund.values(), Decimal(0)), payment.amount)
    if payment.status in (PaymentStatus.REFUNDED, PaymentStatus.REVERSED):
        refunded = payment.amount
    return Refundable(payment.amount, refunded, payment.amount - refunded)


def request_refund(
    payment: Payment, amount: Decimal, reason: str, admin: User, key: str, now: datetime
) -> RefundOperation:
    """Journal a refund and send it; returns the operation (maybe still open).

    Raises RefundRefused. The same `key` again returns the first operation unchanged.
    """
    existing = db.session.scalar(select(RefundOperation).where(RefundOperation.key == key))
    if existing is not None:
        return existing  # a double submit: the first one is the operation
    locked = db.session.scalar(select(Payment).where(Payment.id == payment.id).with_for_update())
    assert locked is not None
    if amount <= 0:
        raise RefundRefused("The amount must be more than zero.")
    left = refundable(locked).left
    if amount > left:
        raise RefundRefused(
            f"Only {left} {locked.currency} of this payment is left to refund."
            if left > 0
            else "This payment has been refunded in full already."
        )
    op = RefundOperation(
        key=key,
        payment_id=locked.id,
        amount=amount,
        currency=locked.currency,
        reason=reason,
        requested_by=admin.id,
        requested_at=now,
        status=OperationStatus.OPEN,
        paypal_request_id=f"tollgate-refund-{key}"[:64],
        attempts=0,
        next_attempt_at=now + IN_FLIGHT,
    )
    try:
        with db.session.begin_nested():
            db.session.add(op)
    except IntegrityError:
        db.session.rollback()
        same = db.session.scalar(select(RefundOperation).where(RefundOperation.key == key))
        if same is not None:
            return same  # the double submit won the race
        raise RefundRefused(
            "A refund of this payment is already in progress; wait for it to finish."
        ) from None
    audit(
        admin,
        "refund requested",
        "payment",
        locked.id,
        now=now,
        reason=reason,
        details={"amount": str(amount), "currency": locked.currency, "txn_id": locked.txn_id},
    )
    db.session.commit()  # journalled before anything is sent
    send(op, now)
    return op


def send(op: RefundOperation, now: datetime) -> None:
    """Ask PayPal for the refund (again: same request id, same refund) and record it."""
    payment = op.payment
    op.attempts += 1
    op.next_attempt_at = now + IN_FLIGHT
    db.session.commit()
    try:
        answer = api_client().refund_sale(
            payment.txn_id, op.amount, op.currency, op.paypal_request_id
        )
    except ApiError as e:
        op.error = e.for_admin()
        if e.retryable or e.status is None:  # we do not know: ask again with the same id
            op.next_attempt_at = now + min(timedelta(minutes=2**op.attempts), MAX_BACKOFF)
        else:  # PayPal refused it: nothing moved
            op.status, op.finished_at = OperationStatus.FAILED, now
        db.session.commit()
        return
    finish(op, answer, now)


def finish(op: RefundOperation, answer: dict[str, Any], now: datetime) -> None:
    """Record PayPal's refund: the operation, the fact (period removed), the notice."""
    refund_id = str(answer.get("id", ""))[:64]
    # The payment's row first, as request_refund takes it: recompute below updates the
    # payment, and a refund being requested meanwhile holds that lock while it waits to
    # see whether this operation is still open. Same order, no deadlock.
    db.session.execute(select(Payment.id).where(Payment.id == op.payment_id).with_for_update())
    if not refund_id:
        op.error = f"PayPal's answer has no refund id: {str(answer)[:200]}"
        db.session.commit()
        return
    op.status, op.finished_at, op.error = OperationStatus.DONE, now, None
    op.paypal_refund_id = refund_id
    sub = service.lock(Subscription.id == op.payment.subscription_id)
    fact = Fact(
        FactKind.REFUNDED,
        now,
        key=f"{refund_id}:Refunded",  # the webhook's key for this refund: one fact
        txn_id=op.payment.txn_id,
        amount=op.amount,
    )
    new = service.record_facts(sub, [fact], source="admin", now=now, actor=op.requester)
    ent = service.recompute(sub, now)
    notices.notify(sub, [fact], new, now, ent=ent, currency=op.currency)
    db.session.commit()


def settle_open(now: datetime, limit: int = 50) -> str:
    """The job: send again every open operation whose request may have been lost (a crash,
    a timeout). PayPal answers with the refund it already made, or makes it now, once."""
    due = db.session.scalars(
        select(RefundOperation)
        .where(
            RefundOperation.status == OperationStatus.OPEN,
            RefundOperation.next_attempt_at <= now,
        )
        .order_by(RefundOperation.next_attempt_at)
        .limit(limit)
    ).all()
    for op in due:
        send(op, now)
    done = sum(1 for op in due if op.status is OperationStatus.DONE)
    still = db.session.scalar(
        select(func.count())
        .select_from(RefundOperation)
        .where(RefundOperation.status == OperationStatus.OPEN)
    )
    return f"{len(due)} open refund(s) sent again, {done} finished, {still} still open"
