"""IPN intake and processing on PostgreSQL under gunicorn, against baselines of the same run.

Prints:
- intake: `POST /paypal/ipn` req/s and p99 (wrk, gunicorn -w 4 --threads 8) next to a bare Flask
  route served the same way, while one inbox worker processes against a postback that
  answers after 0, 200 and 1000 ms;
- processing: messages/s with 1 and 2 `flask inbox process` workers at 0 and 200 ms
  postback delay, and the backlog left when the run ends.

Targets (issue 12; exit 1 when one is missed): intake >= INTAKE_TARGET x the bare route
at every postback delay, and >= PROCESSING_TARGET messages/s with 2 workers at 200 ms.

Needs PostgreSQL (BENCH_DATABASE_URL, default the local server) and wrk. Every process it
starts is on 127.0.0.1 and is stopped at the end; a throwaway database is dropped.
Usage: python bench/processing.py [--messages N] [--seconds S]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
SERVER = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
LOGS = Path(tempfile.mkdtemp(prefix="tollgate-bench-"))  # each process's output, for a look after
#: An inbox worker, as deployed on one machine beside the web processes
#: (docs/operations.md, "Processes"): with a smaller share of the CPU,
#: so that PayPal's requests to the site win it. `nice` alone does not do that here: the
#: kernel's autogroups give each session (every process below is started in its own) an
#: equal share, whatever its processes' nice, so the share is lowered for the worker's
#: session too (/proc/self/autogroup), as systemd's `CPUWeight=` does for a service's cgroup.
INBOX_PROCESS = [str(BIN / "flask"), "--app", "app", "inbox", "process"]
WORKER = [
    "sh",
    "-c",
    'echo 10 > /proc/self/autogroup 2>/dev/null; exec nice -n 10 "$0" "$@"',
    *INBOX_PROCESS,
    "--loop",
    "--quiet",
    "--interval",
    "0.1",
]
LUA = """wrk.method = "POST"
wrk.body = "{body}"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
"""


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


def ipn_body(i: int, run: str) -> bytes:
    from paypal_sim.formats import encode_form, ipn_date

    return encode_form(
        [
            ("txn_type", "subscr_payment"),
            ("subscr_id", f"I-BENCH{i:08d}"),
            ("txn_id", f"{run}{i:010d}"[:19]),
            ("payment_date", ipn_date(datetime(2026, 1, 15, 12, tzinfo=UTC))),
            ("payment_status", "Completed"),
            ("mc_gross", "9.00"),
            ("mc_fee", "0.56"),
            ("mc_currency", "USD"),
            ("item_number", "premium-monthly"),
            ("business", "merchant@example.com"),
            ("receiver_email", "merchant@example.com"),
            ("charset", "windows-1252"),
            ("first_name", "José"),
        ],
        "windows-1252",
    )


def seed(url: str, subscriptions: int) -> None:
    """Schema through the real migrations, one plan, and the subscriptions that renew."""
    from flask_migrate import upgrade

    from gateway import create_app
    from gateway.roles.service import ensure_roles
    from models import Plan, Subscription, db

    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url}, instance_path=tempfile.mkdtemp()
    )
    with app.app_context():
        upgrade()
        now = datetime.now(UTC)
        plan = Plan(
            code="premium-monthly",
            name="Premium",
            roles=ensure_roles(["premium"], datetime.now(UTC)),
            price=Decimal("9.00"),
            currency="USD",
            period_count=1,
            period_unit="M",
            active=True,
            created_at=now,
        )
        db.session.add(plan)
        db.session.flush()
        if subscriptions:  # an empty list would insert one row of defaults
            db.session.execute(
                sa.insert(Subscription),
                [
                    {
                        "paypal_id": f"I-BENCH{i:08d}",
                        "plan_id": plan.id,
                        "state": "active",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(subscriptions)
                ],
            )
        db.session.commit()
        db.engine.dispose()


def load_inbox(url: str, n: int, run: str) -> None:
    """N renewal payments waiting in the inbox, as if PayPal had just sent them."""
    engine = sa.create_engine(url)
    now = datetime.now(UTC) - timedelta(seconds=1)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM notifications WHERE status <> 'processed'"))
        conn.execute(
            sa.text(
                "INSERT INTO notifications (channel, received_at, body, headers, status, "
                "attempts, next_attempt_at) VALUES ('ipn', :t, :b, '{}', 'pending', 0, :t)"
            ),
            [{"t": now, "b": ipn_body(i, run)} for i in range(n)],
        )
    engine.dispose()


def count(url: str, where: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        value = conn.execute(sa.text(f"SELECT count(*) FROM notifications WHERE {where}")).scalar()
    engine.dispose()
    return int(value or 0)


def gateway_env(url: str, postback_port: int) -> dict[str, str]:
    return dict(
        os.environ,
        GATEWAY_SQLALCHEMY_DATABASE_URI=url,
        GATEWAY_SECRET_KEY="bench-secret-key-0123456789abcdef",
        GATEWAY_INSTANCE_PATH=tempfile.mkdtemp(),
        GATEWAY_PAYPAL_MODE="sim",
        GATEWAY_PAYPAL_IPN_POSTBACK_URL=f"http://127.0.0.1:{postback_port}/cgi-bin/webscr",
    )


def wrk(port: int, path: str, body: bytes, seconds: float) -> tuple[float, float]:
    """(requests/s, p99 ms) of POSTs with `body`: 2 threads, 32 connections, after a
    one-second warm-up (gunicorn's workers boot after its port opens)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA.format(body=body.decode("latin-1")))
    subprocess.run(
        ["wrk", "-t2", "-c32", "-d1s", "-s", f.name, f"http://127.0.0.1:{port}{path}"],
        capture_output=True,
        check=True,
    )
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c32",
            f"-d{seconds:g}s",
            "--latency",
            "-s",
            f.name,
            f"http://127.0.0.1:{port}{path}",
        ],
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


INTAKE_TARGET = 0.5
#: The intake rows serve the site and the bare route alike as the production line in
#: docs/operations.md does (`gunicorn -w 4 --threads 8`): PayPal's POSTs in flight
#: together in one process share a commit (pipeline/group_commit.py), which sync workers
#: (one request at a time) never can.
WEB_WORKERS = 4
THREADS = 8
PROCESSING_TARGET = 500.0


def intake(url: str, seconds: float, rounds: int = 3) -> list[str]:
    """Prints the intake table; returns the missed targets.

    This machine's speed drifts by a third within minutes, so for each row the bare route
    and the site are measured in turn, `rounds` times, and the row gives the medians: each
    ratio is between neighbouring measurements. The inbox worker is paused (SIGSTOP) while
    the bare route is measured, so that it competes with the site only.
    """
    missed = []
    print(
        f"\nIntake: POST /paypal/ipn vs a bare Flask route (gunicorn -w {WEB_WORKERS} --threads"
        f" {THREADS} for both; wrk -c32; median of {rounds} interleaved rounds)"
    )
    print(
        f"{'postback delay':>15} {'bare req/s':>11} {'ipn req/s':>10} {'ratio':>6}"
        f" {'bare p99':>9} {'ipn p99':>9}   ratio per round"
    )
    body = ipn_body(0, "INTAKE")
    bare_port = free_port()
    with started(
        gunicorn("bench.bare_app:app", bare_port, THREADS, WEB_WORKERS), dict(os.environ), bare_port
    ):
        for delay in (None, 0, 200, 1000):  # None: no inbox worker competing for the machine
            pb, site = free_port(), free_port()
            env = gateway_env(url, pb)
            bare: list[tuple[float, float]] = []
            ipn: list[tuple[float, float]] = []
            with (
                started(
                    [sys.executable, "bench/postback_server.py", str(pb), str(delay or 0)], env, pb
                ),
                started(gunicorn("app:app", site, THREADS, WEB_WORKERS), env, site),
                started(WORKER if delay is not None else ["sleep", "3600"], env) as worker,
            ):
                for _ in range(rounds):
                    os.killpg(worker.pid, signal.SIGSTOP)
                    bare.append(wrk(bare_port, "/", body, seconds))
                    os.killpg(worker.pid, signal.SIGCONT)
                    ipn.append(wrk(site, "/paypal/ipn", body, seconds))
            ratios = [i[0] / b[0] for b, i in zip(bare, ipn, strict=True)]
            ratio = statistics.median(ratios)
            label = "no worker" if delay is None else f"{delay} ms"
            print(
                f"{label:>15} {statistics.median(b[0] for b in bare):>11.0f}"
                f" {statistics.median(i[0] for i in ipn):>10.0f} {ratio:>6.2f}"
                f" {statistics.median(b[1] for b in bare):>7.1f}ms"
                f" {statistics.median(i[1] for i in ipn):>7.1f}ms"
                f"   {' '.join(f'{r:.2f}' for r in ratios)}"
            )
            if ratio < INTAKE_TARGET:
                missed.append(f"intake ({label}) {ratio:.2f}x the bare route")
    return missed


def processing(url: str, n: int, limit: float) -> list[str]:
    """Prints the processing table; returns the missed targets."""
    missed = []
    print(f"\nProcessing {n} renewal IPNs already in the inbox (flask inbox process)")
    print(f"{'postback delay':>15} {'workers':>8} {'messages/s':>11} {'backlog after':>14}")
    for delay in (0, 200):
        for workers in (1, 2):
            run = f"R{delay}W{workers}"
            load_inbox(url, n, run)
            pb = free_port()
            env = gateway_env(url, pb)
            done_at = None
            with (
                started([sys.executable, "bench/postback_server.py", str(pb), str(delay)], env, pb),
                contextlib.ExitStack() as stack,
            ):
                for _ in range(workers):
                    stack.enter_context(started(WORKER, env))
                first = None
                deadline = time.monotonic() + limit
                while time.monotonic() < deadline:
                    processed = count(
                        url,
                        "status = 'processed' AND txn_id LIKE :r".replace(":r", f"'{run[:6]}%'"),
                    )
                    if processed and first is None:
                        first = (time.monotonic(), processed)
                    if processed >= n:
                        done_at = time.monotonic()
                        break
                    time.sleep(0.05)
                end = done_at or time.monotonic()
                processed = count(url, f"status = 'processed' AND txn_id LIKE '{run[:6]}%'")
                backlog = count(url, "status IN ('pending', 'retry', 'deferred')")
            assert first is not None, "nothing was processed"
            rate = (processed - first[1]) / max(end - first[0], 1e-9)
            print(f"{delay:>12} ms {workers:>8} {rate:>11.0f} {backlog:>14}")
            if delay == 200 and workers == 2 and rate < PROCESSING_TARGET:
                missed.append(f"processing at 200 ms with 2 workers {rate:.0f} messages/s")
    return missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk run length")
    parser.add_argument("--rounds", type=int, default=3, help="intake rounds per row")
    parser.add_argument("--limit", type=float, default=60.0, help="max seconds per processing run")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (Debian: apt-get install wrk)")
    print(f"process logs: {LOGS}")
    with database() as url:
        seed(url, args.messages)
        missed = intake(url, args.seconds, args.rounds)
        missed += processing(url, args.messages, args.limit)
    if missed:
        targets = f"intake >= {INTAKE_TARGET}x, processing >= {PROCESSING_TARGET:.0f}/s"
        sys.exit(f"targets missed ({targets}): " + "; ".join(missed))
    print("targets met")


if __name__ == "__main__":
    main()
