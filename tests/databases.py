"""A database of its own for a test or a session: a SQLite file, or a throwaway
PostgreSQL database on the test server, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url


@contextmanager
def throwaway_database(server: str | None, sqlite_file: Path, prefix: str) -> Iterator[str]:
    """The URL of an empty database: `sqlite_file` without a server, else a new
    PostgreSQL database named `prefix_<random>` (OperationalError if the server is down)."""
    if not server:
        yield f"sqlite:///{sqlite_file}"
        return
    url = make_url(server).set(drivername="postgresql+psycopg")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
