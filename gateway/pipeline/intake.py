"""Intake: store a notification's exact bytes before anyone answers PayPal."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.exc import DBAPIError

from models import Notification, db

from ..billing.statuses import Channel, NotificationStatus
from ..database import autocommit_engine

#: Never stored: a browser's or proxy's credentials have no business in PayPal's record.
PRIVATE_HEADERS = {"cookie", "authorization", "proxy-authorization"}

_TABLE = cast(Table, Notification.__table__)
#: Built once, parameters apart: compiled once per process, not per message.
INSERT = insert(_TABLE).returning(_TABLE.c.id)


def _row(
    channel: Channel,
    raw: bytes,
    headers: Mapping[str, str],
    remote_addr: str | None,
    now: datetime,
    event_id: str | None,
) -> dict[str, Any]:
    return {
        "channel": channel.value,
        "body": raw,
        "headers": {k: v for k, v in headers.items() if k.lower() not in PRIVATE_HEADERS},
        "remote_addr": (remote_addr or "")[:64],
        "received_at": now,
        "status": NotificationStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "event_id": (event_id or "")[:128] or None,
    }


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
    row = _row(channel, raw, headers, remote_addr, now, event_id)
    note_id = db.session.execute(INSERT, row).scalar_one()
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
    RETURNING on a connection of `autocommit_engine`, so the statement is its own durable
    transaction and the whole store is one round trip to the database (no pre-ping, no
    BEGIN or COMMIT, no session). A connection found dead is replaced and the INSERT sent
    once more; if the first had been committed after all, the copy is a duplicate, which
    processing ignores like any re-sent message.
    """
    row = _row(channel, raw, headers, remote_addr, now, event_id)
    try:
        return _autocommit(row)
    except DBAPIError as e:
        if not e.connection_invalidated:
            raise
    return _autocommit(row)  # on a fresh connection: the pool dropped the dead one


def _autocommit(row: dict[str, Any]) -> int:
    with autocommit_engine().connect() as conn:
        return int(conn.execute(INSERT, row).scalar_one())
