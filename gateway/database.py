"""Engine set-up the drivers do not do by themselves.

SQLite through pysqlite: the driver opens a transaction only before a data change, never
for a SAVEPOINT, so a savepoint issued first starts a transaction by itself and its
RELEASE commits everything (a dry run that rolls back would not). We open a real
transaction first. Reads still run outside transactions, as pysqlite intends, so a read
never holds a snapshot that a later write would have to upgrade. Each connection also
gets WAL (readers never block the writer), synchronous=NORMAL (safe in WAL) and a busy
timeout instead of an immediate "database is locked", and foreign keys are enforced as
PostgreSQL enforces them (SQLite's default is not to).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from flask import Flask, current_app
from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from models import db
from models.base import Model

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
)


def configure_engine(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        _sqlite(engine)


def autocommit_engine() -> Engine:
    """This app's engine for intake (pipeline/intake.py): the same database, a pool of its
    own whose connections are always in autocommit mode (each statement its own durable
    transaction), without a pre-ping or a reset on return, so one statement is one round
    trip. Whoever uses it replaces a dead connection itself."""
    found = current_app.extensions.get("autocommit_engine")
    if found is None:
        # The operator's engine options (connect_args for TLS, pool sizes...) hold here too;
        # only what makes it an autocommit engine differs.
        options = dict(current_app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options.update(isolation_level="AUTOCOMMIT", pool_pre_ping=False)
        options.update(pool_reset_on_return=None)
        engine = create_engine(db.engine.url, **options)
        if engine.dialect.name == "sqlite":
            _sqlite(engine)
        found = current_app.extensions.setdefault("autocommit_engine", engine)
        if found is not engine:  # another thread made one first
            engine.dispose()
    engine_: Engine = found
    return engine_


def dispose_engines(app: Flask) -> None:
    """Close every pooled connection of this app (tests, before dropping a database)."""
    engine = app.extensions.pop("autocommit_engine", None)
    if engine is not None:
        engine.dispose()
    db.engine.dispose()


def _sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "savepoint")
    def on_savepoint(conn: Connection, _name: str) -> None:
        raw = conn.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:
            conn.exec_driver_sql("BEGIN")


def insert_new(
    model: type[Model],
    rows: Sequence[dict[str, Any]],
    unique: Sequence[str],
    returning: Sequence[str],
) -> list[tuple[Any, ...]]:
    """INSERT ... ON CONFLICT (unique) DO NOTHING RETURNING ...: the rows that were new.

    One statement for any number of rows, and no savepoint: a re-delivered fact or payment
    is simply not inserted again, on SQLite and PostgreSQL alike.
    """
    if not rows:
        return []
    table = cast(Table, model.__table__)
    dialect_insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    stmt = (
        dialect_insert(table)
        .on_conflict_do_nothing(index_elements=list(unique))
        .returning(*(table.c[name] for name in returning))
    )
    # Parameters apart from the statement: its compiled form is cached and reused.
    result = db.session.execute(stmt, list(rows) if len(rows) > 1 else rows[0])
    return [tuple(row) for row in result]


def lock_key(key: str) -> None:
    """Hold a transaction-scoped lock on `key` (PostgreSQL advisory lock; released at commit).

    SQLite needs none: its single writer already serialises every write transaction.
    """
    lock_keys([key])


def lock_keys(keys: Iterable[str]) -> None:
    """`lock_key` for several keys in one round trip, taken in sorted order, so two
    transactions locking overlapping sets never wait for each other in a circle."""
    if db.engine.dialect.name == "postgresql":
        ordered = sorted(set(keys))
        if ordered:
            db.session.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                [{"k": k} for k in ordered] if len(ordered) > 1 else {"k": ordered[0]},
            )


#: PostgreSQL channel on which a member's id is announced when their access changes.
MEMBERS_CHANNEL = "tollgate_access"
#: Session.info key: members announced in the current transaction (dropped at commit).
CHANGED_MEMBERS = "changed_members"


def members_changed(user_ids: Iterable[int], session: Any = None) -> None:
    """The one call any code that changes members' access (roles, admin flag, e-mail,
    session token) makes: every process forgets what it keeps of them, at commit.

    This process at once (gateway/fastpath/ reads `CHANGED_MEMBERS` after commit); others
    by `NOTIFY` on PostgreSQL, sent inside the transaction so it goes out only if the
    change commits. SQLite announces every commit by itself (`PRAGMA data_version`).
    Changes made through the ORM to a `User` row call this by themselves (the fast
    path's flush listener); a bulk UPDATE must call it.
    """
    session = session if session is not None else db.session
    ids = set(user_ids)
    if not ids:
        return
    session.info.setdefault(CHANGED_MEMBERS, set()).update(ids)
    if session.get_bind().dialect.name == "postgresql":  # one statement for any number
        session.connection().execute(
            text("SELECT pg_notify(:channel, u) FROM unnest(CAST(:ids AS text[])) AS u"),
            {"channel": MEMBERS_CHANNEL, "ids": [str(u) for u in sorted(ids)]},
        )
