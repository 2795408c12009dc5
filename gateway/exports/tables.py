"""What each export reads: its columns, its filters (those of its admin page) and its rows.

Rows are fetched in batches (`yield_per`: a server-side cursor on PostgreSQL), so memory
stays flat however large the table. Every text cell passes through `csv_safe`, so a
spreadsheet never runs a member's e-mail as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session, scoped_session

from models import Payment, Plan, Subscription, User

from ..admin.payments import parse_filters, search_ids
from ..subscriptions.display import status_of
from ..subscriptions.listing import SubscriptionFilter, email_prefix, order_of, subscriptions

#: What a spreadsheet may read as the start of a formula (OWASP's list).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Rows fetched per round trip.
BATCH = 500

Filters = dict[str, str]
Row = Sequence[object]
#: The request's session, or one on the job's own connection.
Reader = Session | scoped_session[Any]


def csv_safe(value: object) -> str:
    """A cell a spreadsheet shows as text: a leading quote disarms a would-be formula.

    Numbers are written as they are (a negative amount is not a formula); any text that
    starts like one, e-mail addresses and PayPal's fields included, gets the quote.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | Decimal | float):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_chunks(header: Sequence[str], rows: Iterable[Row], every: int = 200) -> Generator[str]:
    """The CSV text of `header` and `rows`, `every` rows at a time (rows read lazily)."""
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow([csv_safe(h) for h in header])
    for i, row in enumerate(rows, 1):
        out.writerow([csv_safe(v) for v in row])
        if i % every == 0:
            yield buf.getvalue()
            buf.seek(0), buf.truncate()
    yield buf.getvalue()


@dataclass(frozen=True)
class Table:
    kind: str
    title: str
    columns: tuple[str, ...]
    #: The page's query string -> the filters the export keeps (BadFilter if unknown).
    parse: Callable[[Mapping[str, str]], Filters]
    #: Every row of the export, sorted (unsorted for `count`).
    statement: Callable[[Filters, datetime, int], Select]
    #: The rows as written, read through `session` (its own connection, for the job).
    rows: Callable[[Reader, Filters, datetime, int], Iterator[Row]]
    #: The file name's middle part, e.g. "subscriptions-active".
    stem: Callable[[Filters], str]
    #: As many rows as `statement`, without what does not change the count (a join that
    #: keeps every row, the members' per-member totals); `statement` itself if None.
    counted: Callable[[Filters, datetime, int], Select] | None = None

    def _counted(self, f: Filters, at: datetime, lapsing: int) -> Select:
        return (self.counted or self.statement)(f, at, lapsing).order_by(None)

    def count_upto(self, session: Reader, f: Filters, at: datetime, lapsing: int, n: int) -> int:
        """How many rows the export has, counting no further than `n` (a bounded cost)."""
        inner = self._counted(f, at, lapsing).limit(n).subquery()
        return int(session.scalar(select(func.count()).select_from(inner)) or 0)

    def count(self, session: Reader, f: Filters, at: datetime, lapsing: int) -> int:
        inner = self._counted(f, at, lapsing).subquery()
        return int(session.scalar(select(func.count()).select_from(inner)) or 0)


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
