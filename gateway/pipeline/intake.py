"""Intake: store a notification's exact bytes before anyone answers PayPal."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from models import Notification, db

from ..billing.statuses import Channel, NotificationStatus

#: Never stored: a browser's or proxy's credentials have no business in PayPal's record.
PRIVATE_HEADERS = {"cookie", "authorization", "proxy-authorization"}


def store(
    channel: Channel, raw: bytes, headers: Mapping[str, str], remote_addr: str | None, now: datetime
) -> Notification:
    """Commit one notification as received; the caller answers 200 only after this returns."""
    kept = {k: v for k, v in headers.items() if k.lower() not in PRIVATE_HEADERS}
    note = Notification(
        channel=channel,
        body=raw,
        headers=kept,
        remote_addr=(remote_addr or "")[:64],
        received_at=now,
        status=NotificationStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
    )
    db.session.add(note)
    db.session.commit()
    return note
