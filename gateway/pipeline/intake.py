"""Intake: store a notification's exact bytes before anyone answers PayPal."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import cast

from sqlalchemy import Insert, Table, insert
from sqlalchemy.exc import DBAPIError

from models import Notification, db

from ..billing.statuses import Channel, NotificationStatus

#: Never stored: a browser's or proxy's credentials have no business in PayPal's record.
PRIVATE_HEADERS = {"cookie", "authorization", "proxy-authorization"}


def _insert(
    channel: Channel,
    raw: bytes,
    headers: Mapping[str, str],
    remote_addr: str | None,
    now: datetime,
    event_id: str | None,
) -> Insert:
    kept = {k: v for k, v in headers.items() if k.lower() not in PRIVATE_HEADERS}
    table = cast(Table, Notification.__table__)
    return (
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
    )


def store(
    channel: Channel,
    raw: bytes,
    headers: Mapping[str, str],
    remote_addr: str | None,
    now: datetime,
    event_id: str | None = None,
) -> int:
    """Commit one notification, with whatever else the session holds; returns its id.
    For the app's own messages (answers of PayPal's API we asked for)."""
    note_id = db.session.execute(
        _insert(channel, raw, headers, remote_addr, now, event_id)
    ).scalar_one()
    db.session.commit()
    return int(note_id)


def receive(
    channel: Channel,
    raw: bytes,
    headers: Mapping[str, str],
    remote_addr: str | None,
    now: datetime,
    event_id: str | None = None,
) -> int:
    """Store one message as PayPal (or anyone) sent it; answer 200 only after this.

    The endpoints' path, on PayPal's (and an attacker's) request path: one INSERT ...
    RETURNING on a connection in autocommit mode, so the statement is its own durable
    transaction: one round trip to the database instead of BEGIN, INSERT, COMMIT through
    the session. A connection found dead is replaced and the INSERT sent once more; if
    the first had been committed after all, the copy is a duplicate, which processing
    ignores like any re-sent message.
    """
    stmt = _insert(channel, raw, headers, remote_addr, now, event_id)
    try:
        return _autocommit(stmt)
    except DBAPIError as e:
        if not e.connection_invalidated:
            raise
    return _autocommit(stmt)  # on a fresh connection: the pool dropped the dead one


def _autocommit(stmt: Insert) -> int:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        return int(conn.execute(stmt).scalar_one())
