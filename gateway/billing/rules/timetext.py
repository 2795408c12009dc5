"""How a moment is written for people, in one place (pure, so the billing core's sentences
use it too; the rest of the gateway imports it from `gateway.clock`).

Admin pages, logs and flashes write the UTC minute, ISO-style: "2026-01-15 12:00 UTC".
Member-facing sentences write the day: "15 Jan 2026". Moments are stored in UTC; an
aware moment in another zone is turned to UTC first, so the label is always true.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

#: The paid-through date of a lifetime pass (docs/passes.md): far enough to never come, near
#: enough that adding days to it (a reminder, a grace) never overflows. Written "lifetime".
LIFETIME_END = datetime(9999, 1, 1, tzinfo=UTC)


def is_lifetime(at: datetime) -> bool:
    return _utc(at).replace(tzinfo=UTC) >= LIFETIME_END


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC) if at.tzinfo is not None else at


def utc_text(at: datetime) -> str:
    """The UTC minute: "2026-01-15 12:00 UTC"."""
    if is_lifetime(at):
        return "lifetime"
    return f"{_utc(at):%Y-%m-%d %H:%M} UTC"


def utc_day(at: datetime) -> str:
    """The UTC day, ISO: "2026-01-15"."""
    return f"{_utc(at):%Y-%m-%d}"


def day_text(at: datetime) -> str:
    """The UTC day for members: "15 Jan 2026"."""
    if is_lifetime(at):
        return "lifetime"
    return f"{_utc(at):%d %b %Y}"


def day_time_text(at: datetime) -> str:
    """The UTC minute for members: "15 Jan 2026 12:00 UTC"."""
    if is_lifetime(at):
        return "lifetime"
    return f"{_utc(at):%d %b %Y %H:%M} UTC"


def end_of_day(d: date) -> datetime:
    """Access "until 5 March" means until the end of that day, UTC."""
    return datetime.combine(d + timedelta(days=1), time(0), tzinfo=UTC)
