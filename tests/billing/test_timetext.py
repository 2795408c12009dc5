"""How moments are written for people (gateway/billing/rules/timetext.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from gateway import clock
from gateway.billing.rules import timetext

NOON = datetime(2026, 1, 15, 12, 0, 59, tzinfo=UTC)
#: 00:30 on the 16th in UTC+1: still the 15th in UTC.
PARIS = datetime(2026, 1, 16, 0, 30, tzinfo=timezone(timedelta(hours=1)))


def test_each_form():
    """Does each helper write its documented form of a UTC moment (minutes, no seconds)?"""
    assert timetext.utc_text(NOON) == "2026-01-15 12:00 UTC"
    assert timetext.utc_day(NOON) == "2026-01-15"
    assert timetext.day_text(NOON) == "15 Jan 2026"
    assert timetext.day_time_text(NOON) == "15 Jan 2026 12:00 UTC"


def test_another_zone_is_written_in_utc():
    """Is an aware moment in another zone turned to UTC first, so the "UTC" label is true
    (and the day is the UTC day)?"""
    assert timetext.utc_text(PARIS) == "2026-01-15 23:30 UTC"
    assert timetext.utc_day(PARIS) == "2026-01-15"
    assert timetext.day_text(PARIS) == "15 Jan 2026"
    assert timetext.day_time_text(PARIS) == "15 Jan 2026 23:30 UTC"
    assert timetext.utc_text(NOON.replace(tzinfo=None)) == "2026-01-15 12:00 UTC"  # naive: UTC


def test_the_gateway_uses_the_same_helpers():
    """Does gateway.clock hand out the pure module's helpers themselves, not copies?"""
    assert clock.utc_text is timetext.utc_text and clock.day_text is timetext.day_text
    assert clock.utc_day is timetext.utc_day and clock.day_time_text is timetext.day_time_text
