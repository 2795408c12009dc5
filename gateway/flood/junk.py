"""Junk arriving: POSTs refused at the door and messages PayPal answered INVALID, over the
last hour, for /admin/status (a warning past STATUS_JUNK_PER_HOUR) and /metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from models import IntakeRefusal, Notification, db

from ..billing.rules.statuses import NotificationStatus
from .retention import STRANGERS

WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Junk:
    #: POSTs refused in the last hour (over a limit, or too large), as written so far.
    refused: int = 0
    #: IPNs and webhooks received in the last hour that PayPal did not verify.
    invalid: int = 0
    #: The sender refused most often in that hour, and how often.
    top_source: str | None = None
    top_refused: int = 0

    @property
    def total(self) -> int:
        return self.refused + self.invalid


def last_hour(now: datetime) -> Junk:
    since = now - WINDOW
    refused = db.session.scalar(
        select(func.coalesce(func.sum(IntakeRefusal.refused), 0)).where(IntakeRefusal.at > since)
    )
    top = db.session.execute(
        select(IntakeRefusal.source, func.sum(IntakeRefusal.refused).label("n"))
        .where(IntakeRefusal.at > since)
        .group_by(IntakeRefusal.source)
        .order_by(func.sum(IntakeRefusal.refused).desc())
        .limit(1)
    ).first()
    invalid = db.session.scalar(
        select(func.count()).where(
            # ix_notifications_due: an invalid message's next_attempt_at is when it came
            # or later (a retried postback moves it on), so this bound loses none.
            Notification.status == NotificationStatus.INVALID,
            Notification.next_attempt_at > since,
            Notification.received_at > since,
            Notification.channel.in_(STRANGERS),
        )
    )
    return Junk(
        refused=int(refused or 0),
        invalid=int(invalid or 0),
        top_source=top.source if top else None,
        top_refused=int(top.n) if top else 0,
    )


def warning(junk: Junk, per_hour: float) -> str | None:
    """The status page's line when junk rises past the setting, else None."""
    if junk.total <= per_hour:
        return None
    top = f"; most from {junk.top_source} ({junk.top_refused} refused)" if junk.top_source else ""
    return (
        f"Junk at the PayPal endpoints in the last hour: {junk.refused} POST(s) refused "
        f"(rate limits, too large) and {junk.invalid} message(s) PayPal did not verify{top} "
        f'(warning above {per_hour:g} an hour; docs/security.md, "A flood of forged '
        'messages").'
    )
