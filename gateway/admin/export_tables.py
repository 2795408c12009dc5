"""What each admin export reads: its columns, the same filters as its page, and its rows,
in the page's order. Rows are fetched in batches, so memory stays flat however large the
table (the machinery, the file-writing job and the CSV: gateway/exports/)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import closing
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, select

from models import Payment, Plan, Subscription, User

from ..exports.tables import BATCH, Filters, Reader, Row, Table
from ..subscriptions.display import status_of
from ..subscriptions.listing import SubscriptionFilter, email_prefix, order_of, subscriptions
from .payments import parse_filters, search_ids


def _subscription_filter(args: Mapping[str, str]) -> Filters:
    return SubscriptionFilter.from_args(args).args()


def _subscriptions(f: Filters, at: datetime, lapsing: int) -> Select:
    sf = SubscriptionFilter.from_args(f)
    return subscriptions(sf, at, lapsing).order_by(*order_of(sf))


def _subscription_rows(session: Reader, f: Filters, at: datetime, lapsing: int) -> Iterator[Row]:
    result = session.scalars(_subscriptions(f, at, lapsing).execution_options(yield_per=BATCH))
    with closing(result):  # also when the reader stops early: a server cursor is closed
        for s in result:
            yield (
                s.id,
                s.user.email if s.user else "",
                s.plan.code if s.plan else "(unknown plan)",
                " ".join(s.plan.role_names) if s.plan else "",
                s.state,
                status_of(s, at),
                s.paypal_id,
                s.started_at,
                s.paid_through,
                s.grace_until,
                s.access_until,
                s.cancelled_at,
                s.ended_at,
            )


def _member_filter(args: Mapping[str, str]) -> Filters:
    q = args.get("q", "").strip()[:254]
    return {"q": q} if q else {}


def _members(f: Filters, at: datetime, lapsing: int) -> Select:
    s = Subscription
    per_member = (
        select(
            s.user_id.label("user_id"),
            func.count().label("subscriptions"),
            func.count(case((s.access_until > at, 1))).label("with_access"),
            func.max(s.access_until).label("access_until"),
        )
        .where(s.user_id.is_not(None))
        .group_by(s.user_id)
        .subquery()
    )
    stmt = (
        select(
            User.id,
            User.email,
            User.is_admin,
            User.created_at,
            func.coalesce(per_member.c.subscriptions, 0),
            func.coalesce(per_member.c.with_access, 0),
            per_member.c.access_until,
        )
        .outerjoin(per_member, per_member.c.user_id == User.id)
        .order_by(User.email)
    )
    if f.get("q"):  # the same search as the members page
        stmt = stmt.where(email_prefix(f["q"]))
    return stmt


def _member_count(f: Filters, at: datetime, lapsing: int) -> Select:
    stmt = select(User.id)
    return stmt.where(email_prefix(f["q"])) if f.get("q") else stmt


def _payment_filter(args: Mapping[str, str]) -> Filters:
    status, q = parse_filters(args)
    return {k: v for k, v in (("status", status), ("q", q)) if v}


def _payments(f: Filters, at: datetime, lapsing: int) -> Select:
    p, s = Payment, Subscription
    stmt = (
        select(
            p.id,
            p.txn_id,
            p.paid_at,
            p.status,
            p.amount,
            p.currency,
            p.fee,
            p.period_start,
            p.period_end,
            p.subscription_id,
            s.paypal_id,
            User.email,
            Plan.code,
        )
        .join(s, s.id == p.subscription_id)
        .outerjoin(User, User.id == s.user_id)
        .outerjoin(Plan, Plan.id == s.plan_id)
        .order_by(p.paid_at.desc(), p.id.desc())
    )
    if f.get("status"):  # the same filters as the payments page
        stmt = stmt.where(p.status == f["status"])
    if f.get("q"):
        stmt = stmt.where(p.id.in_(search_ids(f["q"])))
    return stmt


def _payment_count(f: Filters, at: datetime, lapsing: int) -> Select:
    """Every payment has its subscription (a required key): the joins keep every row."""
    stmt = select(Payment.id)
    if f.get("status"):
        stmt = stmt.where(Payment.status == f["status"])
    if f.get("q"):
        stmt = stmt.where(Payment.id.in_(search_ids(f["q"])))
    return stmt


def _core_rows(statement: Callable[[Filters, datetime, int], Select]) -> Any:
    def rows(session: Reader, f: Filters, at: datetime, lapsing: int) -> Iterator[Row]:
        result = session.execute(statement(f, at, lapsing).execution_options(yield_per=BATCH))
        with closing(result):
            yield from result

    return rows


TABLES: dict[str, Table] = {
    t.kind: t
    for t in (
        Table(
            "subscriptions",
            "Subscriptions",
            (
                "id",
                "member",
                "plan",
                "roles",
                "state",
                "status",
                "paypal_id",
                "started_at",
                "paid_through",
                "grace_until",
                "access_until",
                "cancelled_at",
                "ended_at",
            ),
            _subscription_filter,
            _subscriptions,
            _subscription_rows,
            lambda f: f"subscriptions-{f.get('view', 'active')}",
        ),
        Table(
            "members",
            "Members",
            (
                "id",
                "email",
                "admin",
                "joined",
                "subscriptions",
                "with_access_now",
                "access_until",
            ),
            _member_filter,
            _members,
            _core_rows(_members),
            lambda f: "members",
            _member_count,
        ),
        Table(
            "payments",
            "Payments",
            (
                "id",
                "txn_id",
                "paid_at",
                "status",
                "amount",
                "currency",
                "fee",
                "period_start",
                "period_end",
                "subscription_id",
                "paypal_id",
                "member",
                "plan",
            ),
            _payment_filter,
            _payments,
            _core_rows(_payments),
            lambda f: "payments",
            _payment_count,
        ),
    )
}
