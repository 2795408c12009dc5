"""Processes and throwaway databases for the processing benchmark (bench/processing.py):
free ports, started-and-reaped servers, wrk, and the CPU a process has used."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SERVER = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
LOGS = Path(tempfile.mkdtemp(prefix="tollgate-bench-"))  # each process's output, for a look after
LUA = """wrk.method = "POST"
wrk.body = "{body}"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
"""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


@contextlib.contextmanager
def started(
    command: list[str], env: dict[str, str], port: int | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    log = open(LOGS / f"{Path(command[0]).name}-{len(list(LOGS.iterdir()))}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(  # output to a file: an unread pipe would fill up and stall it
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        if port is not None:
            wait_for_port(port)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@contextlib.contextmanager
def database() -> Iterator[str]:
    url = sa.engine.make_url(SERVER)
    name = f"tollgate_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far, from /proc (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def wrk(port: int, path: str, body: bytes, seconds: float) -> tuple[float, float]:
    """(requests/s, p99 ms) of POSTs with `body`: 2 threads, 32 connections, after a
    one-second warm-up (gunicorn's workers boot after its port opens)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA.format(body=body.decode("latin-1")))
    url = f"http://127.0.0.1:{port}{path}"
    subprocess.run(
        ["wrk", "-t2", "-c32", "-d1s", "-s", f.name, url], capture_output=True, check=True
    )
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds:g}s", "--latency", "-s", f.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return rps, float(p99.group(1)) * scale


def gunicorn(target: str, port: int, threads: int = 0, workers: int = 2) -> list[str]:
    """gunicorn -w `workers`: sync workers, or gthread workers of `threads` threads each."""
    return [
        str(BIN / "gunicorn"),
        "-w",
        str(workers),
        *(["--threads", str(threads)] if threads else []),
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        target,
    ]
