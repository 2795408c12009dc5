"""The one source of "now": UTC, swappable in tests through app.extensions["clock"]."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app

# How moments are written for people lives in the pure core (its sentences use it too).
from .billing.rules.timetext import day_text, day_time_text, end_of_day, utc_day, utc_text

__all__ = [
    "SystemClock",
    "FrozenClock",
    "now",
    "utc_text",
    "utc_day",
    "day_text",
    "day_time_text",
    "end_of_day",
]


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock tests set and move; it never sleeps."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        self.at = self.at + timedelta(**delta)
        return self.at

    def set(self, at: datetime) -> None:
        self.at = at


def now() -> datetime:
    """The current UTC time according to the app's clock."""
    return current_app.extensions["clock"].now()
