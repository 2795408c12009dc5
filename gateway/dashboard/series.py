"""The admin dashboard's series (members, movements, revenue, renewals, flags, views' counts).

Every query groups in SQL and returns one row per week, month or kind (the buckets of
`buckets.py`), never one per subscription or payment, so the dashboard costs the same
memory on a million rows.

Membership is read from each subscription's cached dates (`started_at` to
`access_until`): a gap inside one subscription (a lapse, then a payment on the same
PayPal subscription much later) counts as access, and a refund removes the access it
bought from the past too, as it does from the subscription itself.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, distinct, exists, func, select
from sqlalchemy.orm import QueryableAttribute, aliased

from models import Flag, Payment, Plan, Subscription, SubscriptionFact, db

from ..billing.rules.entitlements import refund_identity
from ..billing.rules.facts import FactKind
from ..billing.rules.statuses import PaymentStatus, SubscriptionState
from ..subscriptions.listing import VIEWS, SubscriptionFilter, subscriptions
from .buckets import WEEK, last_months, last_weeks, midnight, month_of, seconds_between, week_of

UNKNOWN_PLAN = "(unknown plan)"
#: Payments whose money PayPal received (a later refund or chargeback is subtracted).
RECEIVED = (
    PaymentStatus.COMPLETED,
    PaymentStatus.PARTIALLY_REFUNDED,
    PaymentStatus.REFUNDED,
    PaymentStatus.REVERSED,
)
GIVEN_BACK = (PaymentStatus.REFUNDED, PaymentStatus.REVERSED)


def _weekly(
    column: QueryableAttribute[datetime | None],
    start: datetime,
    now: datetime,
    *where: ColumnElement[bool],
) -> dict[date, int]:
    """{Monday: rows} for rows whose `column` falls between `start` and `now`."""
    week = week_of(column)
    stmt = select(week, func.count()).where(column >= start, column <= now, *where).group_by(week)
    return {date.fromisoformat(w): n for w, n in db.session.execute(stmt)}


# --- the five charts ----------------------------------------------------------------


@dataclass(frozen=True)
class ActiveMembers:
    week: date  # the week's Monday
    at: datetime  # the moment counted: the end of the week, or now for the current one
    members: int  # distinct members with access then
    subscriptions: int  # subscriptions with access then (unclaimed ones included)


def active_members(now: datetime, weeks: int) -> list[ActiveMembers]:
    """Members and subscriptions with access at the end of each week.

    One pass groups the subscriptions by member, counting per moment those with access
    (a member counts once however many they hold); the outer query adds the members up.
    Cheaper than a COUNT(DISTINCT ...) per moment, which sorts the rows once per moment.
    """
    mondays = last_weeks(now, weeks)
    moments = [min(midnight(m) + WEEK, now) for m in mondays]
    s = Subscription
    per_member = (
        select(
            s.user_id.label("user_id"),
            *(
                func.sum(case((and_(s.started_at <= at, s.access_until > at), 1), else_=0)).label(
                    f"n{i}"
                )
                for i, at in enumerate(moments)
            ),
        )
        .where(s.access_until > moments[0], s.started_at <= moments[-1])
        .group_by(s.user_id)  # the unclaimed ones (no member) form one group
        .subquery()
    )
    member = per_member.c.user_id.is_not(None)
    totals: list[ColumnElement[int]] = []
    for i in range(len(moments)):
        held = per_member.c[f"n{i}"]
        totals.append(func.coalesce(func.sum(case((and_(member, held > 0), 1), else_=0)), 0))
        totals.append(func.coalesce(func.sum(held), 0))
    row = db.session.execute(select(*totals)).one()
    return [
        ActiveMembers(m, at, int(row[2 * i]), int(row[2 * i + 1]))
        for i, (m, at) in enumerate(zip(mondays, moments, strict=True))
    ]


@dataclass(frozen=True)
class Movement:
    week: date
    new: int  # subscriptions that started (signed up and paid, or were granted)
    cancelled: int  # renewals cancelled
    lapsed: int  # access ran out (not renewed, cancelled, refunded or revoked)


def movements(now: datetime, weeks: int) -> list[Movement]:
    """New, cancelled and lapsed subscriptions per week."""
    mondays = last_weeks(now, weeks)
    start, s = midnight(mondays[0]), Subscription
    new = _weekly(s.started_at, start, now, s.state != SubscriptionState.PENDING)
    cancelled = _weekly(s.cancelled_at, start, now)
    lapsed = _weekly(s.access_until, start, now)
    return [Movement(m, new.get(m, 0), cancelled.get(m, 0), lapsed.get(m, 0)) for m in mondays]


@dataclass(frozen=True)
class Revenue:
    month: date
    plan: str
    currency: str
    payments: int
    gross: Decimal
    refunded: Decimal  # refunds and chargebacks of these payments, whenever they happened

    @property
    def net(self) -> Decimal:
        return self.gross - self.refunded


def revenue(now: datetime, months: int) -> list[Revenue]:
    """Payments received per month (of payment), plan and currency; never across currencies."""
    start = midnight(last_months(now, months)[0])
    p, s = Payment, Subscription
    month, plan = month_of(p.paid_at), func.coalesce(Plan.code, UNKNOWN_PLAN)

    def paid_in_window(*columns: Any) -> Select[Any]:
        return (
            select(*columns)
            .select_from(p)
            .join(s, s.id == p.subscription_id)
            .outerjoin(Plan, Plan.id == s.plan_id)
            .where(p.paid_at >= start, p.paid_at <= now)
        )

    # Whole cents: SQLite sums NUMERIC as floating point; integers add up exactly.
    cents = func.sum(func.round(p.amount * 100))
    totals = (
        paid_in_window(month, plan, p.currency, p.status, func.count(), cents)
        .where(p.status.in_(RECEIVED))
        .group_by(month, plan, p.currency, p.status)
    )
    payments: dict[tuple[date, str, str], int] = defaultdict(int)
    gross: dict[tuple[date, str, str], Decimal] = defaultdict(Decimal)
    back: dict[tuple[date, str, str], Decimal] = defaultdict(lambda: Decimal("0.00"))
    for m, code, currency, status, n, total in db.session.execute(totals):
        key = (date.fromisoformat(m), code, currency)
        amount = Decimal(int(round(total))).scaleb(-2)
        payments[key] += n
        gross[key] += amount
        if status in GIVEN_BACK:
            back[key] += amount
    # Partial refunds: only these need the refund facts (one refund may be reported by
    # several channels; `refund_identity` counts it once, as the billing core does).
    f = SubscriptionFact
    partial = (
        paid_in_window(p.id, month, plan, p.currency, p.amount, f.key, f.amount)
        .join(
            f,
            and_(
                f.subscription_id == p.subscription_id,
                f.txn_id == p.txn_id,
                f.kind == FactKind.REFUNDED.value,
            ),
        )
        .where(p.status == PaymentStatus.PARTIALLY_REFUNDED)
    )
    refunds: dict[int, dict[str, Decimal]] = defaultdict(dict)
    paid: dict[int, tuple[tuple[date, str, str], Decimal]] = {}
    for pid, m, code, currency, amount, fact_key, refunded in db.session.execute(partial):
        paid[pid] = ((date.fromisoformat(m), code, currency), amount)
        refunds[pid][refund_identity(fact_key)] = amount if refunded is None else abs(refunded)
    for pid, (key, amount) in paid.items():
        back[key] += min(amount, sum(refunds[pid].values(), Decimal(0)))
    return [
        Revenue(k[0], k[1], k[2], payments[k], gross[k], back[k])
        for k in sorted(payments, key=lambda k: (k[0], k[2], k[1]))
    ]


@dataclass(frozen=True)
class Renewals:
    week: date
    failed: int  # subscriptions with a failed renewal that week
    recovered: int  # of those, paid within the grace period after the failure


def renewals(now: datetime, weeks: int, grace_days: int) -> list[Renewals]:
    """Failed renewals per week (by failure), and how many a payment recovered in grace."""
    mondays = last_weeks(now, weeks)
    failed, paid = aliased(SubscriptionFact), aliased(SubscriptionFact)
    recovered = exists().where(
        paid.subscription_id == failed.subscription_id,
        paid.kind == FactKind.PAYMENT_COMPLETED.value,
        paid.at > failed.at,
        seconds_between(paid.at, failed.at) <= grace_days * 86400,
    )
    week = week_of(failed.at)
    stmt = (
        select(
            week,
            func.count(distinct(failed.subscription_id)),
            func.count(distinct(case((recovered, failed.subscription_id)))),
        )
        .where(
            failed.kind == FactKind.PAYMENT_FAILED.value,
            failed.at >= midnight(mondays[0]),
            failed.at <= now,
        )
        .group_by(week)
    )
    found = {date.fromisoformat(w): (n, r) for w, n, r in db.session.execute(stmt)}
    return [Renewals(m, *found.get(m, (0, 0))) for m in mondays]


@dataclass(frozen=True)
class FlagCount:
    kind: str
    open: int


def open_flags() -> list[FlagCount]:
    """Unresolved flags per kind, the most numerous first."""
    n = func.count()
    stmt = (
        select(Flag.kind, n)
        .where(Flag.resolved_at.is_(None))
        .group_by(Flag.kind)
        .order_by(n.desc(), Flag.kind)
    )
    return [FlagCount(kind, count) for kind, count in db.session.execute(stmt)]


def view_counts(now: datetime, lapsing_days: int) -> dict[str, int]:
    """How many subscriptions each view of the subscriptions table lists right now."""
    out = {}
    for view in VIEWS:
        stmt = subscriptions(SubscriptionFilter(view=view), now, lapsing_days).order_by(None)
        out[view] = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    return out
