"""Calendar billing periods: `1 M` from 31 January ends on the last day of February."""

from __future__ import annotations

import calendar
import enum
from datetime import datetime, timedelta


class PeriodUnit(enum.StrEnum):
    """PayPal's period units (t1/t3 on a Standard button, interval_unit on REST)."""

    DAY = "D"
    WEEK = "W"
    MONTH = "M"
    YEAR = "Y"


def _add_months(start: datetime, months: int) -> datetime:
    total = start.month - 1 + months
    year, month = start.year + total // 12, total % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def add_period(start: datetime, count: int, unit: PeriodUnit | str) -> datetime:
    """Return `start` moved forward by `count` units, clamping month ends.

    Months are added from the anchor in one step (anchor + n months), never by
    repeated single steps, so 31 Jan -> 28 Feb -> 31 Mar rather than drifting to the 28th.
    """
    unit = PeriodUnit(unit)
    if count < 0:
        raise ValueError("count must not be negative")
    if unit is PeriodUnit.DAY:
        return start + timedelta(days=count)
    if unit is PeriodUnit.WEEK:
        return start + timedelta(weeks=count)
    if unit is PeriodUnit.MONTH:
        return _add_months(start, count)
    return _add_months(start, 12 * count)
