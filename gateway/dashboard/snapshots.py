"""The dashboard's snapshots: every chart's numbers counted by a job, kept, sliced by the page.

Counting reads every subscription and payment (seconds at a million rows), so a scheduled
job counts the widest window and keeps the result; the page shows a slice of the latest.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from time import monotonic
from typing import Any

from sqlalchemy import delete, func, select

from models import DashboardSnapshot, Payment, Subscription, SubscriptionFact, db

from .buckets import last_months
from .series import (
    ActiveMembers,
    Movement,
    Renewals,
    Revenue,
    active_members,
    movements,
    renewals,
    revenue,
    view_counts,
)

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
    window (the reference functions of `series.py` only cut the rows they group), so the
    last N rows of a wider snapshot equal the same function called for N at the same moment.
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
    """Every chart's numbers at `at`, by the reference functions of `series.py` (the
    definition); only `parts` are counted (the others are left empty)."""
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
