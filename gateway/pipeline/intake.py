"""Intake: store a notification's exact bytes before anyone answers PayPal."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert

from models import Notification, db

from ..billing.statuses import Channel, NotificationStatus

#: Never stored: a browser's or proxy's credentials have no business in PayPal's record.
PRIVATE_HEADERS = {"cookie", "authorization", "proxy-authorization"}


def store(
    channel: Channel,
    raw: bytes,
    headers: Mapping[str, str],
    remote_addr: str | None,
    now: datetime,
    event_id: str | None = None,
) -> int:
    """Commit one notification as received; returns its id. Answer 200 only after this.

    One INSERT ... RETURNING and a commit: intake sits on PayPal's (and an attacker's)
    request path, so it skips the ORM's unit of work.
    """
    kept = {k: v for k, v in headers.items() if k.lower() not in PRIVATE_HEADERS}
    table = cast(Table, Notification.__table__)
    note_id = db.session.execute(
        insert(table)
        .values(
            channel=channel.value,
            body=raw,
            headers=kept,
            remote_addr=(remote_addr or "")[:64],
            received_at=now,
            status=NotificationStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            event_id=(event_id or "")[:128] or None,
        )
        .returning(table.c.id)
    ).scalar_one()
    db.session.commit()
    return int(note_id)
