"""Engine set-up the drivers do not do by themselves.

SQLite through pysqlite: the driver opens a transaction only before a data change, never
for a SAVEPOINT, so a savepoint issued first starts a transaction by itself and its
RELEASE commits everything (a dry run that rolls back would not). We open a real
transaction first. Reads still run outside transactions, as pysqlite intends, so a read
never holds a snapshot that a later write would have to upgrade. Each connection also
gets WAL (readers never block the writer), synchronous=NORMAL (safe in WAL) and a busy
timeout instead of an immediate "database is locked", and foreign keys are enforced as
PostgreSQL enforces them (SQLite's default is not to).

PostgreSQL behind a transaction pooler (`DATABASE_POOLER = "transaction"`, PgBouncer's
`pool_mode = transaction`): each transaction may run on another server connection, so
nothing may outlive one. psycopg then prepares no statement (a statement prepared on one
server connection is missing on the next, or clashes with another client's of the same
name); everything else the app does on the database is already transaction-scoped
(advisory locks are `pg_advisory_xact_lock`, no `SET`, no temporary table, server-side
cursors only inside a transaction). The gate's LISTEN needs a session: it takes
`DATABASE_LISTEN_URL`, a direct connection (gateway/fastpath/member_copy.py).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from flask import Flask, current_app
from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from models import db
from models.base import Model

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
)


#: DATABASE_POOLER's values: "" PostgreSQL itself (or a session pooler), "transaction".
POOLERS = ("", "transaction")
#: Engines whose connections prepare no statement (see `prepares`).
_UNPREPARED: weakref.WeakSet[Engine] = weakref.WeakSet()


def database_problem(config: Mapping[str, Any]) -> str | None:
    """Why the database settings cannot work, or None (checked when the app starts)."""
    pooler, listen = config.get("DATABASE_POOLER", ""), config.get("DATABASE_LISTEN_URL", "")
    if pooler not in POOLERS:
        return (
            f"GATEWAY_DATABASE_POOLER must be empty (PostgreSQL itself, or a pooler in "
            f"session mode) or transaction (PgBouncer's pool_mode = transaction), not {pooler!r}"
        )
    url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    if pooler == "transaction" and url.get_driver_name() != "psycopg":
        return (
            "GATEWAY_DATABASE_POOLER=transaction needs a postgresql+psycopg:// database URL, "
            f"not {url.drivername}://"
        )
    try:
        listen_backend = make_url(listen).get_backend_name() if listen else "postgresql"
    except ArgumentError:
        listen_backend = ""
    if listen_backend != "postgresql":
        return "GATEWAY_DATABASE_LISTEN_URL must be a postgresql:// URL (a direct connection)"
    if pooler == "transaction" and not listen and float(config["GATE_CACHE_SECONDS"]) > 0:
        return (
            "GATEWAY_DATABASE_POOLER=transaction needs GATEWAY_DATABASE_LISTEN_URL: a direct "
            "URL to PostgreSQL for the gate's LISTEN, which hears nothing through a "
            "transaction pooler (other processes would keep a revoked member's access for "
            "GATE_CACHE_SECONDS); or set GATEWAY_GATE_CACHE_SECONDS=0"
        )
    return None


def engine_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """`SQLALCHEMY_ENGINE_OPTIONS` as every engine of the app takes them: behind a
    transaction pooler, with psycopg's prepared statements off (`prepare_threshold=None`;
    by default psycopg prepares a statement on its 5th run)."""
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if config.get("DATABASE_POOLER") == "transaction":
        connect_args = dict(options.get("connect_args") or {})
        connect_args["prepare_threshold"] = None
        options["connect_args"] = connect_args
    return options


def prepares(engine: Engine) -> bool:
    """May code ask this engine's connections to prepare a statement (psycopg's
    `prepare=True`)? Not when they were told to prepare nothing (`prepare_threshold=None`,
    behind a transaction pooler)."""
    return engine not in _UNPREPARED


def _note_prepares(engine: Engine, options: Mapping[str, Any]) -> None:
    connect_args = options.get("connect_args") or {}
    if "prepare_threshold" in connect_args and connect_args["prepare_threshold"] is None:
        _UNPREPARED.add(engine)


def configure_engine(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        _sqlite(engine)
    _note_prepares(engine, app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})


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
        _note_prepares(engine, options)
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
