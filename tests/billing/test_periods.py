"""Calendar periods."""

from datetime import UTC, datetime

import pytest

from gateway.billing import add_period


def d(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    "start,count,unit,end",
    [
        (d(2026, 1, 31), 1, "M", d(2026, 2, 28)),
        (d(2028, 1, 31), 1, "M", d(2028, 2, 29)),  # leap year
        (d(2026, 1, 31), 2, "M", d(2026, 3, 31)),  # from the anchor, not step by step
        (d(2026, 3, 31), 1, "M", d(2026, 4, 30)),
        (d(2026, 12, 15, 8, 30), 1, "M", d(2027, 1, 15, 8, 30)),
        (d(2026, 11, 30), 3, "M", d(2027, 2, 28)),
        (d(2028, 2, 29), 1, "Y", d(2029, 2, 28)),
        (d(2026, 1, 1), 7, "D", d(2026, 1, 8)),
        (d(2026, 1, 1), 2, "W", d(2026, 1, 15)),
        (d(2026, 1, 1), 0, "M", d(2026, 1, 1)),
    ],
)
def test_add_period(start, count, unit, end):
    """Does a period end on the calendar date PayPal would bill next?"""
    assert add_period(start, count, unit) == end


def test_add_period_rejects_bad_input():
    """Are unknown units and negative counts refused?"""
    with pytest.raises(ValueError):
        add_period(d(2026, 1, 1), 1, "Q")
    with pytest.raises(ValueError):
        add_period(d(2026, 1, 1), -1, "M")
