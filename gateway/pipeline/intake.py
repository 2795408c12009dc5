"""Intake: store a notification's exact bytes before anyone answers PayPal."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Engine, Table, insert
from sqlalchemy.exc import DBAPIError

from models import Notification, db

from ..billing.rules.statuses import Channel, NotificationStatus
from ..database import autocommit_engine, prepares
from .group_commit import GroupCommit

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
    BEGIN or COMMIT, no session); stores arriving together in one process share it.
    """
    row = _row(channel, raw, headers, remote_addr, now, event_id)
    return _group(autocommit_engine()).store(row)


def _group(engine: Engine) -> GroupCommit:
    """The engine's group commit (group_commit.py): concurrent stores of this process share
    an INSERT and its commit; a store alone is the one-row path below."""
    found = _GROUPS.get(engine)
    if found is None:
        with _GROUPS_LOCK:
            found = _GROUPS.get(engine)
            if found is None:
                found = _GROUPS[engine] = GroupCommit(
                    lambda row: _once_more_if_dead(_autocommit, engine, row),
                    lambda rows: _once_more_if_dead(_insert_many, engine, rows),
                )
    return found


_GROUPS: weakref.WeakKeyDictionary[Engine, GroupCommit] = weakref.WeakKeyDictionary()
_GROUPS_LOCK = threading.Lock()
_T = TypeVar("_T")
_R = TypeVar("_R")


def _once_more_if_dead(write: Callable[[Engine, _T], _R], engine: Engine, rows: _T) -> _R:
    """A connection found dead is replaced and the INSERT sent once more; if the first had
    been committed after all, the copies are duplicates, which processing ignores like any
    re-sent message."""
    try:
        return write(engine, rows)
    except DBAPIError as e:
        if not e.connection_invalidated:
            raise
    return write(engine, rows)  # on a fresh connection: the pool dropped the dead one


#: Many rows in one statement, ids in the order of the rows (SQLAlchemy's insertmanyvalues
#: sorts what RETURNING gives back by a sentinel; PostgreSQL promises no order itself).
INSERT_MANY = insert(_TABLE).returning(_TABLE.c.id, sort_by_parameter_order=True)


def _insert_many(engine: Engine, rows: list[dict[str, Any]]) -> list[int]:
    """One INSERT of all the rows on an autocommit connection: one transaction, one
    commit; the ids in the order of the rows.

    On psycopg the rows go as one array per column (`_Insert.unnest_sql`): one prepared
    statement whatever the group's size, its arrays sent in binary. SQLAlchemy's own
    multi-row INSERT has 9 parameters a row, and psycopg converts a statement of more
    than 50 parameters anew on every execution (with escaping of every value), which
    cost 85 us of the web worker's CPU a row in a group of 8 against 35 us this way.
    Other drivers (SQLite) take SQLAlchemy's.
    """
    stmt = _Insert.of(engine, rows[0])
    if stmt.unnest_sql is None:
        with engine.connect() as conn:
            try:
                ids = conn.execute(INSERT_MANY, rows).scalars().all()
            except DBAPIError as e:
                if e.connection_invalidated:
                    engine.dispose()
                raise
        return [int(i) for i in ids]
    values = [stmt.values(row) for row in rows]
    arrays = [[v[name] for v in values] for name in stmt.columns]
    # PostgreSQL numbers the rows from the sequence in the order the SELECT gives them
    # (ORDER BY the arrays' ordinality), so the ids, sorted, are in the rows' order: what
    # SQLAlchemy's sort_by_parameter_order relies on for a SERIAL key too.
    return sorted(int(r[0]) for r in _execute(engine, stmt.unnest_sql, arrays, stmt.options))


def _autocommit(engine: Engine, row: dict[str, Any]) -> int:
    """The INSERT straight through the driver, on a pooled autocommit connection.

    It is the statement SQLAlchemy would send, with the parameters SQLAlchemy would send
    (`_Insert`), without SQLAlchemy's per-statement work (execution context, events,
    result objects): half of what a store costs the web worker. On psycopg it is a
    prepared statement from the first message on (none behind a transaction pooler).
    """
    stmt = _Insert.of(engine, row)
    return int(_execute(engine, stmt.sql, stmt.params(row), stmt.options)[0][0])


def _execute(
    engine: Engine, sql: str, params: Any, options: dict[str, Any]
) -> Sequence[Sequence[Any]]:
    """One statement on a pooled connection of the autocommit engine; its rows.

    A driver error is raised as SQLAlchemy raises it (`DBAPIError`, `connection_invalidated`
    when the connection was dead), and a dead connection empties the pool, as SQLAlchemy
    does, so the retry gets a fresh one.
    """
    dialect = engine.dialect
    conn = cursor = None
    try:
        conn = engine.raw_connection()
        cursor = conn.cursor()
        cursor.execute(sql, params, **options)
        rows: Sequence[Sequence[Any]] = cursor.fetchall()  # to the end: SQLite commits then
        cursor.close()
    except dialect.loaded_dbapi.Error as e:
        dead = dialect.is_disconnect(e, conn, cursor)
        if dead and conn is not None:
            conn.invalidate(e)
            engine.dispose()  # the others were opened before it died: replace them too
        raise DBAPIError.instance(
            sql,
            params,
            e,
            dialect.loaded_dbapi.Error,
            hide_parameters=engine.hide_parameters,
            connection_invalidated=dead,
            dialect=dialect,
        ) from e
    finally:
        if conn is not None:
            conn.close()
    return rows


class _Insert:
    """INSERT ... RETURNING id of the columns `_row` sets, as compiled for one engine: the
    SQL text, the parameter order of a positional driver (SQLite's `?`), and each column
    type's conversion of its value (enum names, UTC datetimes, JSON text) exactly as
    SQLAlchemy applies them."""

    _cache: weakref.WeakKeyDictionary[Engine, _Insert] = weakref.WeakKeyDictionary()

    def __init__(self, engine: Engine, columns: list[str]) -> None:
        dialect = engine.dialect
        compiled = INSERT.compile(dialect=dialect, column_keys=columns)
        self.sql = compiled.string
        self.order = compiled.positiontup  # None for a driver with named parameters
        self.processors = [
            (name, process)
            for name in columns
            if (process := _TABLE.c[name].type.dialect_impl(dialect).bind_processor(dialect))
        ]
        self.columns = columns
        # Prepared from the first message on, unless the engine prepares nothing (behind a
        # transaction pooler a prepared statement is lost with its server connection).
        prepare = dialect.driver == "psycopg" and prepares(engine)
        self.options = {"prepare": True} if prepare else {}
        #: Any number of rows as one array per column (`_insert_many`), on psycopg: `%b`,
        #: the arrays in binary.
        self.unnest_sql: str | None = None
        if dialect.driver == "psycopg":
            names = ", ".join(columns)
            arrays = ", ".join(
                f"%b::{_TABLE.c[name].type.compile(dialect=dialect)}[]" for name in columns
            )
            self.unnest_sql = (
                f"INSERT INTO {_TABLE.name} ({names}) SELECT {names} FROM unnest({arrays})"
                f" WITH ORDINALITY AS r({names}, n) ORDER BY n RETURNING id"
            )

    @classmethod
    def of(cls, engine: Engine, row: dict[str, Any]) -> _Insert:
        found = cls._cache.get(engine)
        if found is None:
            found = cls._cache[engine] = cls(engine, list(row))
        return found

    def values(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row's values as the driver takes them."""
        values = dict(row)
        for name, process in self.processors:
            values[name] = process(values[name])
        return values

    def params(self, row: dict[str, Any]) -> dict[str, Any] | list[Any]:
        values = self.values(row)
        return [values[name] for name in self.order] if self.order is not None else values
