"""A real PgBouncer in transaction mode on a free loopback port, for tests: its
configuration in a folder of the test's, run in the foreground as a child process,
stopped and reaped however the test ends."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.servers import BOUND, Started, started
from tests.smtp import free_port

#: The database name through which every client shares ONE server connection (the
#: others get a pool of `POOL_SIZE`): two clients' prepared statements then meet.
TIGHT = "tight"
POOL_SIZE = 4

INI = """\
[databases]
{tight} = host={host} port={port} dbname={database} pool_size=1
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen_port}
unix_socket_dir =
auth_type = trust
auth_file = {users}
admin_users = {user}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 500
"""


def pgbouncer_binary() -> str:
    """Debian's pgbouncer; skips the test without it, unless REQUIRE_PGBOUNCER=1 (CI)."""
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    if found is None:
        if os.environ.get("REQUIRE_PGBOUNCER") == "1":
            pytest.fail("pgbouncer is not installed and REQUIRE_PGBOUNCER=1")
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer)")
    return found


@dataclass
class Bouncer:
    port: int
    process: Started
    direct: str  # a URL of the database straight to PostgreSQL

    def url(self, database: str | None = None) -> str:
        """`direct`, through this PgBouncer (to `database`, an alias such as TIGHT)."""
        url = make_url(self.direct).set(host="127.0.0.1", port=self.port)
        if database is not None:
            url = url.set(database=database)
        return url.render_as_string(hide_password=False)

    def show(self, what: str) -> list[tuple[object, ...]]:
        """`SHOW <what>` on PgBouncer's admin console."""
        url = make_url(self.url("pgbouncer")).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as c:
            return list(c.execute(f"SHOW {what}", prepare=False).fetchall())


@contextmanager
def pgbouncer(direct: str, folder: Path) -> Iterator[Bouncer]:
    """PgBouncer in front of `direct`'s server, in transaction mode; `TIGHT` leads to
    `direct`'s database over one server connection."""
    binary = pgbouncer_binary()
    server = make_url(direct)
    users = folder / "userlist.txt"
    users.write_text(f'"{server.username}" "{server.password or ""}"\n')
    port = free_port()
    ini = folder / "pgbouncer.ini"
    ini.write_text(
        INI.format(
            tight=TIGHT,
            host=server.host or "127.0.0.1",
            port=server.port or 5432,
            database=server.database,
            listen_port=port,
            users=users,
            user=server.username,
            pool_size=POOL_SIZE,
        )
        # It refuses to run as root; it reads its files before it drops to this user.
        + ("user = postgres\n" if os.geteuid() == 0 else "")
    )
    with started([binary, str(ini)]) as process:  # the foreground: no -d
        process.wait_for(f"listening on 127.0.0.1:{port}")
        bouncer = Bouncer(port, process, direct)
        end = time.monotonic() + BOUND
        while True:  # listening is not yet answering: ask its console
            try:
                version = bouncer.show("VERSION")
                break
            except psycopg.OperationalError:
                assert time.monotonic() < end and process.proc.poll() is None, process.text
                time.sleep(0.05)
        assert "PgBouncer" in str(version[0][0]), version
        yield bouncer
