"""How many messages PayPal disowned (answered INVALID, or whose signature failed) lately,
and whether that is a rise: a postback fault, a changed webhook id or a flood of forgeries
all show here before anything else does.

Counted along `ix_notifications_invalid` (INVALID rows only, by when they were answered).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, literal_column, select

from models import Notification, db

HOUR = timedelta(hours=1)
#: The stretch before the last hour that says what is usual.
BEFORE = timedelta(hours=24)


@dataclass(frozen=True)
class InvalidAnswers:
    #: Messages answered INVALID in the last hour.
    last_hour: int = 0
    #: Messages answered INVALID in the 24 hours before that.
    day_before: int = 0

    @property
    def hourly_before(self) -> float:
        return self.day_before / (BEFORE / HOUR)


def count(now: datetime) -> InvalidAnswers:
    """Two index range counts."""
    # The literal, not a bound parameter, so that the planner sees the partial index's
    # own condition (SQLite uses a partial index only then).
    base = (
        select(func.count())
        .select_from(Notification)
        .where(Notification.status == literal_column("'invalid'"))
    )
    at = Notification.processed_at
    last = db.session.scalar(base.where(at > now - HOUR, at <= now)) or 0
    before = db.session.scalar(base.where(at > now - HOUR - BEFORE, at <= now - HOUR)) or 0
    return InvalidAnswers(last, before)


def rise(answers: InvalidAnswers, per_hour: float) -> str | None:
    """A warning when the last hour's INVALID answers are over `per_hour` and over twice
    the usual hourly number; None otherwise."""
    if answers.last_hour <= per_hour or answers.last_hour <= 2 * answers.hourly_before:
        return None
    return (
        f"PayPal disowned {answers.last_hour} message(s) (INVALID) in the last hour, against "
        f"{answers.hourly_before:.1f} an hour in the day before (warning above {per_hour:g}): "
        "a postback fault, a wrong webhook id or forged messages. Open flags of kind "
        "'invalid' name the ones about our own subscriptions and payments."
    )
