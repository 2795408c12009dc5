"""Our side of reconciliation: payments and renewing REST subscriptions, read in batches."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime

from sqlalchemy import func, select, tuple_

from models import Notification, Payment, Subscription, db

from ..billing.formats.reconcile import Recorded
from ..billing.formats.reconcile_subscriptions import OurSubscription
from ..billing.rules.statuses import Channel, SubscriptionState

#: Ids per IN (...) list: well inside every database's limit on parameters.
CHUNK = 500


def _chunks(items: Collection[str]) -> Iterator[list[str]]:
    ordered = sorted(items)
    for i in range(0, len(ordered), CHUNK):
        yield ordered[i : i + CHUNK]


# Table columns, not ORM attributes: plain Core rows, without the ORM's per-row work.
_PAY, _SUB = Payment.__table__.c, Subscription.__table__.c
COLUMNS = (
    _PAY.id,
    _PAY.txn_id,
    _PAY.amount,
    _PAY.currency,
    _PAY.status,
    _PAY.paid_at,
    _SUB.paypal_id,
    _PAY.subscription_id,
)


def _recorded(row: tuple) -> Recorded:
    _, txn_id, amount, currency, status, paid_at, paypal_id, sub_id = row
    return Recorded(txn_id, amount, currency, status, paid_at, paypal_id or "", sub_id, row[0])


def by_txn(txn_ids: Collection[str]) -> dict[str, Recorded]:
    """Our payments among these PayPal transaction ids."""
    found: dict[str, Recorded] = {}
    for chunk in _chunks(set(txn_ids)):
        rows = db.session.execute(
            select(*COLUMNS)
            .join(Subscription.__table__, _SUB.id == _PAY.subscription_id)
            .where(_PAY.txn_id.in_(chunk))
        )
        found.update((row[1], _recorded(tuple(row))) for row in rows)
    return found


def subscriptions_named(refs: Collection[str]) -> dict[str, int]:
    """PayPal subscription id -> our subscription's id, for those we know."""
    found: dict[str, int] = {}
    for chunk in _chunks({r for r in refs if r}):
        rows = db.session.execute(
            select(Subscription.paypal_id, Subscription.id).where(Subscription.paypal_id.in_(chunk))
        )
        found.update((str(paypal_id), sub_id) for paypal_id, sub_id in rows)
    return found


def payments_between(start: datetime, end: datetime, size: int = 1000) -> Iterator[list[Recorded]]:
    """Our payments made in [start, end], a batch at a time (keyset paging: flat memory)."""
    after: tuple[datetime, int] | None = None
    while True:
        stmt = (
            select(*COLUMNS)
            .join(Subscription.__table__, _SUB.id == _PAY.subscription_id)
            .where(_PAY.paid_at >= start, _PAY.paid_at <= end)
            .order_by(_PAY.paid_at, _PAY.id)
            .limit(size)
        )
        if after is not None:
            stmt = stmt.where(tuple_(_PAY.paid_at, _PAY.id) > tuple_(*after))
        batch = [_recorded(tuple(r)) for r in db.session.execute(stmt)]
        if not batch:
            return
        yield batch
        after = (batch[-1].at, batch[-1].payment_id)


def any_subscription() -> bool:
    return (
        db.session.scalar(
            select(Subscription.id).where(Subscription.paypal_id.is_not(None)).limit(1)
        )
        is not None
    )


def renewing_rest(day: int, batch: int) -> list[OurSubscription]:
    """Up to `batch` renewing REST subscriptions, a different slice each day, so that
    every one is asked about within (count / batch) days however many there are.

    REST ones only: the Subscriptions API does not know Payments Standard subscriptions,
    whose ids can look the same (`I-...`). A REST subscription is one PayPal's REST side
    has told us about (a webhook, or an answer of the API).
    """
    told_by_rest = (
        select(Notification.id)
        .where(
            Notification.subscr_id == Subscription.paypal_id,
            Notification.channel.in_((Channel.WEBHOOK, Channel.API)),
        )
        .exists()
    )
    renewing = (
        Subscription.state == SubscriptionState.ACTIVE,
        Subscription.paypal_id.like("I-%"),
        told_by_rest,
    )
    total = db.session.scalar(select(func.count()).select_from(Subscription).where(*renewing))
    if not total:
        return []
    start = (day * batch) % total
    stmt = (
        select(
            Subscription.paypal_id, Subscription.id, Subscription.state, Subscription.paid_through
        )
        .where(*renewing)
        .order_by(Subscription.id)
    )
    rows = list(db.session.execute(stmt.offset(start).limit(batch)))
    if len(rows) < batch and start:
        rows += db.session.execute(stmt.limit(min(batch - len(rows), start)))
    return [OurSubscription(str(pid), sid, state.value, paid) for pid, sid, state, paid in rows]
