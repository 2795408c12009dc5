"""The numbers behind the admin dashboard, aggregated in the database, in UTC.

Every query groups in SQL and returns one row per week, month or kind, never one per
subscription or payment, so the dashboard costs the same memory on a million rows. Weeks
start on Monday and are named by that day; months by their first day. SQLite and
PostgreSQL truncate dates differently, so `week_of`, `month_of` and `seconds_between`
compile to each dialect's own functions.

Membership is read from each subscription's cached dates (`started_at` to
`access_until`): a gap inside one subscription (a lapse, then a payment on the same
PayPal subscription much later) counts as access, and a refund removes the access it
bought from the past too, as it does from the subscription itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from time import monotonic
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    String,
    and_,
    case,
    delete,
    distinct,
    exists,
    func,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute, aliased
from sqlalchemy.sql.functions import FunctionElement

from models import DashboardSnapshot, Flag, Payment, Plan, Subscription, SubscriptionFact, db

from ..billing.rules.entitlements import refund_identity
from ..billing.rules.facts import FactKind
from ..billing.rules.statuses import PaymentStatus, SubscriptionState
from ..subscriptions.listing import VIEWS, SubscriptionFilter, subscriptions

WEEK = timedelta(days=7)
UNKNOWN_PLAN = "(unknown plan)"
#: Payments whose money PayPal received (a later refund or chargeback is subtracted).
RECEIVED = (
    PaymentStatus.COMPLETED,
    PaymentStatus.PARTIALLY_REFUNDED,
    PaymentStatus.REFUNDED,
    PaymentStatus.REVERSED,
)
GIVEN_BACK = (PaymentStatus.REFUNDED, PaymentStatus.REVERSED)


# --- dialect helpers ----------------------------------------------------------------


class week_of(FunctionElement[str]):  # noqa: N801 - used like a SQL function
    """The Monday (UTC) of the week a timestamp falls in, as 'YYYY-MM-DD'."""

    type = String()
    name = "week_of"
    inherit_cache = True


class month_of(FunctionElement[str]):  # noqa: N801
    """The first day of a timestamp's month (UTC), as 'YYYY-MM-DD'."""

    type = String()
    name = "month_of"
    inherit_cache = True


class seconds_between(FunctionElement[float]):  # noqa: N801
    """seconds_between(later, earlier): the seconds from `earlier` to `later`."""

    type = Float()
    name = "seconds_between"
    inherit_cache = True


def _args(element: FunctionElement[Any], compiler: Any, **kw: Any) -> list[str]:
    return [compiler.process(c, **kw) for c in element.clauses]


# SQLite keeps UTC timestamps as text; its date functions read that text.
@compiles(week_of, "sqlite")
def _week_sqlite(element: week_of, compiler: Any, **kw: Any) -> str:
    (at,) = _args(element, compiler, **kw)
    return f"date({at}, '-6 days', 'weekday 1')"  # back 6 days, then on to a Monday


@compiles(week_of, "postgresql")
def _week_pg(element: week_of, compiler: Any, **kw: Any) -> str:
    (at,) = _args(element, compiler, **kw)
    # AT TIME ZONE first: date_trunc on timestamptz would use the session's time zone.
    return f"to_char(date_trunc('week', {at} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"


@compiles(month_of, "sqlite")
def _month_sqlite(element: month_of, compiler: Any, **kw: Any) -> str:
    (at,) = _args(element, compiler, **kw)
    return f"strftime('%Y-%m-01', {at})"


@compiles(month_of, "postgresql")
def _month_pg(element: month_of, compiler: Any, **kw: Any) -> str:
    (at,) = _args(element, compiler, **kw)
    return f"to_char({at} AT TIME ZONE 'UTC', 'YYYY-MM-01')"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    later, earlier = _args(element, compiler, **kw)
    # Rounded to the millisecond, so a difference of exactly N days compares as such.
    return f"round((julianday({later}) - julianday({earlier})) * 86400.0, 3)"


@compiles(seconds_between, "postgresql")
def _seconds_pg(element: seconds_between, compiler: Any, **kw: Any) -> str:
    later, earlier = _args(element, compiler, **kw)
    return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"


# --- buckets ------------------------------------------------------------------------


def week_start(at: datetime) -> datetime:
    """Monday 00:00 UTC of the week `at` falls in."""
    day = at.astimezone(UTC).date()
    return datetime.combine(day - timedelta(days=day.weekday()), time(), tzinfo=UTC)


def last_weeks(now: datetime, weeks: int) -> list[date]:
    """The Mondays of the last `weeks` weeks, oldest first; the current week is last."""
    this = week_start(now)
    return [(this - WEEK * i).date() for i in range(weeks - 1, -1, -1)]


def last_months(now: datetime, months: int) -> list[date]:
    """The first days of the last `months` months, oldest first; this month is last."""
    at = now.astimezone(UTC)
    index = at.year * 12 + at.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - months + 1, index + 1)]


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


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
    moments = [min(_utc(m) + WEEK, now) for m in mondays]
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
    start, s = _utc(mondays[0]), Subscription
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
    start = _utc(last_months(now, months)[0])
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
            failed.at >= _utc(mondays[0]),
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


# --- the snapshot: every chart's numbers counted by a job, sliced by the page ----------

#: The widest window the page offers; a snapshot holds this much, the page shows a slice.
MAX_WEEKS, MAX_MONTHS = 104, 36
#: The scheduled job that counts a snapshot (gateway/jobs/registry.py).
JOB_ID = "dashboard-snapshot"
#: Snapshots kept (the page reads the latest; the others show how the numbers moved).
KEEP_SNAPSHOTS = 3


@dataclass(frozen=True)
class Snapshot:
    """The numbers of every chart but the flags (counted live: few, and indexed) and the
    subscription views' counts, as counted at `at` over the last `weeks` / `months`.

    Each chart's rows depend only on their own week or month and on `at`, never on the
    window (the reference functions above only cut the rows they group), so the last N
    rows of a wider snapshot equal the same function called for N at the same moment.
    """

    at: datetime
    weeks: int
    months: int
    active: list[ActiveMembers]
    movements: list[Movement]
    revenue: list[Revenue]
    renewals: list[Renewals]
    counts: dict[str, int]

    def window(self, weeks: int, months: int) -> Snapshot:
        """The same numbers over the last `weeks` / `months` only (at most those held)."""
        weeks, months = min(weeks, self.weeks), min(months, self.months)
        first_month = last_months(self.at, months)[0]
        return Snapshot(
            self.at,
            weeks,
            months,
            self.active[-weeks:],
            self.movements[-weeks:],
            [r for r in self.revenue if r.month >= first_month],
            self.renewals[-weeks:],
            self.counts,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "weeks": self.weeks,
            "months": self.months,
            "active": [
                [a.week.isoformat(), a.at.isoformat(), a.members, a.subscriptions]
                for a in self.active
            ],
            "movements": [
                [m.week.isoformat(), m.new, m.cancelled, m.lapsed] for m in self.movements
            ],
            "revenue": [
                [r.month.isoformat(), r.plan, r.currency, r.payments, str(r.gross), str(r.refunded)]
                for r in self.revenue
            ],
            "renewals": [[r.week.isoformat(), r.failed, r.recovered] for r in self.renewals],
            "counts": self.counts,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Snapshot:
        day, moment = date.fromisoformat, datetime.fromisoformat
        return cls(
            moment(d["at"]),
            int(d["weeks"]),
            int(d["months"]),
            [ActiveMembers(day(w), moment(at), m, s) for w, at, m, s in d["active"]],
            [Movement(day(w), n, c, lapsed) for w, n, c, lapsed in d["movements"]],
            [
                Revenue(day(m), plan, cur, n, Decimal(gross), Decimal(back))
                for m, plan, cur, n, gross, back in d["revenue"]
            ],
            [Renewals(day(w), f, r) for w, f, r in d["renewals"]],
            {k: int(v) for k, v in d["counts"].items()},
        )


#: The parts of a snapshot, each counted by one of the reference functions.
PARTS = ("active", "movements", "revenue", "renewals", "counts")


def count(
    at: datetime,
    weeks: int,
    months: int,
    grace_days: int,
    lapsing_days: int,
    parts: Collection[str] = PARTS,
) -> Snapshot:
    """Every chart's numbers at `at`, by the reference functions above (the definition);
    only `parts` are counted (the others are left empty)."""
    return Snapshot(
        at,
        weeks,
        months,
        active_members(at, weeks) if "active" in parts else [],
        movements(at, weeks) if "movements" in parts else [],
        revenue(at, months) if "revenue" in parts else [],
        renewals(at, weeks, grace_days) if "renewals" in parts else [],
        view_counts(at, lapsing_days) if "counts" in parts else {},
    )


@dataclass(frozen=True)
class Stored:
    snapshot: Snapshot
    computed_at: datetime  # = snapshot.at
    duration_ms: int


def latest(grace_days: int, lapsing_days: int) -> Stored | None:
    """The newest snapshot counted under these settings (one index read), if any."""
    d = DashboardSnapshot
    row = db.session.execute(
        select(d.data, d.computed_at, d.duration_ms)
        .where(d.grace_days == grace_days, d.lapsing_days == lapsing_days)
        .order_by(d.computed_at.desc(), d.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return Stored(Snapshot.from_json(row.data), row.computed_at, row.duration_ms)


def store(at: datetime, grace_days: int, lapsing_days: int) -> Stored:
    """Count a snapshot at `at` over the widest window, keep it, drop the oldest; commits.

    Counted in one REPEATABLE READ transaction on PostgreSQL, so every chart sees the same
    data however long the counting takes.
    """
    db.session.commit()  # a new transaction, so its isolation level can be chosen
    started = monotonic()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    snap = count(at, MAX_WEEKS, MAX_MONTHS, grace_days, lapsing_days)
    db.session.commit()
    ms = int((monotonic() - started) * 1000)
    db.session.add(
        DashboardSnapshot(
            computed_at=at,
            weeks=snap.weeks,
            months=snap.months,
            grace_days=grace_days,
            lapsing_days=lapsing_days,
            data=snap.to_json(),
            duration_ms=ms,
        )
    )
    db.session.flush()
    kept = select(DashboardSnapshot.id).order_by(
        DashboardSnapshot.computed_at.desc(), DashboardSnapshot.id.desc()
    )
    db.session.execute(
        delete(DashboardSnapshot).where(
            DashboardSnapshot.id.not_in(kept.limit(KEEP_SNAPSHOTS).scalar_subquery())
        )
    )
    db.session.commit()
    return Stored(snap, at, ms)


def size_estimate() -> int:
    """Rows the charts aggregate, roughly: the highest ids (index reads, no count)."""
    highest = [
        select(func.max(table.id)).scalar_subquery()
        for table in (Subscription, Payment, SubscriptionFact)
    ]
    return sum(n or 0 for n in db.session.execute(select(*highest)).one())
