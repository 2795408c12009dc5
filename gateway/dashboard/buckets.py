"""The dashboard's buckets, weeks and months in UTC: SQL functions for each dialect, and Python.

Weeks start on Monday and are named by that day; months by their first day. SQLite and
PostgreSQL truncate dates differently, so `week_of`, `month_of` and `seconds_between`
compile to each dialect's own functions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

WEEK = timedelta(days=7)


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


def midnight(day: date) -> datetime:
    """00:00 UTC of `day`."""
    return datetime.combine(day, time(), tzinfo=UTC)
