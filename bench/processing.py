"""IPN intake and processing on PostgreSQL under gunicorn, against baselines of the same run.

Prints:
- intake: `POST /paypal/ipn` req/s and p99 (wrk, gunicorn -w 4 --threads 8) next to a bare Flask
  route served the same way, while one inbox worker processes against a postback that
  answers after 0, 200 and 1000 ms;
- processing: three backlogs (bench/backlogs.py: renewals, a launch of new subscriptions
  claimed through checkout tokens, a mix with refunds and cancellations) drained by 1 and 2
  `flask inbox process` workers at 0 and 200 ms postback delay: messages/s, the workers'
  own CPU per message, their PostgreSQL backends' CPU per message (/proc of the backends
  the workers connect as, found in pg_stat_activity by application_name), SQL statements
  per message (counted in each worker: bench/counted_worker.py), each also as a ratio to
  the renewals of the same run; and a check that every message was applied exactly once.

Targets (exit 1 when one is missed): intake >= INTAKE_TARGET x the bare route at every
postback delay; with 2 workers at 200 ms, renewals >= RENEWAL_TARGET and the launch >=
LAUNCH_TARGET messages/s; worker CPU per launch message <= LAUNCH_CPU_TARGET ms.

Needs PostgreSQL (BENCH_DATABASE_URL, default the local server) and wrk. Every process it
starts is on 127.0.0.1 and is stopped at the end; a throwaway database is dropped.
Usage: python bench/processing.py [--messages N] [--seconds S] [--no-intake]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import backlogs
from bench.backlogs import seed
from bench.bench_procs import (
    BIN,
    LOGS,
    ROOT,
    SERVER,
    cpu_seconds,
    database,
    free_port,
    gunicorn,
    started,
    wrk,
)

#: The other benchmarks import these from here.
__all__ = ["BIN", "INBOX_PROCESS", "ROOT", "SERVER", "database", "free_port", "gunicorn", "seed"]
INBOX_PROCESS = [str(BIN / "flask"), "--app", "app", "inbox", "process"]

APP_NAME = "tollgate-bench-worker"
#: An inbox worker, as deployed on one machine beside the web processes
#: (docs/operations.md, "Processes"): with a smaller share of the CPU,
#: so that PayPal's requests to the site win it. `nice` alone does not do that here: the
#: kernel's autogroups give each session (every process below is started in its own) an
#: equal share, whatever its processes' nice, so the share is lowered for the worker's
#: session too (/proc/self/autogroup), as systemd's `CPUWeight=` does for a service's cgroup.
WORKER = [
    "sh",
    "-c",
    'echo 10 > /proc/self/autogroup 2>/dev/null; exec nice -n 10 "$0" "$@"',
    sys.executable,
    "bench/counted_worker.py",
    "--loop",
    "--quiet",
    "--interval",
    "0.1",
]
INTAKE_TARGET = 0.5
RENEWAL_TARGET = 576.0
LAUNCH_TARGET = 500.0
LAUNCH_CPU_TARGET = 3.0  # ms of worker CPU per launch message
#: The intake rows serve the site and the bare route alike as the production line in
#: docs/operations.md does (`gunicorn -w 4 --threads 8`): PayPal's POSTs in flight
#: together in one process share a commit (pipeline/group_commit.py), which sync workers
#: (one request at a time) never can.
WEB_WORKERS = 4
THREADS = 8


def gateway_env(url: str, postback_port: int) -> dict[str, str]:
    import tempfile

    return dict(
        os.environ,
        GATEWAY_SQLALCHEMY_DATABASE_URI=url,
        GATEWAY_SECRET_KEY="bench-secret-key-0123456789abcdef",
        GATEWAY_INSTANCE_PATH=tempfile.mkdtemp(),
        GATEWAY_PAYPAL_MODE="sim",
        GATEWAY_PAYPAL_IPN_POSTBACK_URL=f"http://127.0.0.1:{postback_port}/cgi-bin/webscr",
    )


def scalar(url: str, sql: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        value = conn.execute(sa.text(sql)).scalar()
    engine.dispose()
    return int(value or 0)


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
    body = backlogs.payment(backlogs.renewal_ref(0), "INTAKE", backlogs.RENEWED_AT)
    bare_port = free_port()
    with started(
        gunicorn("bench.bare_app:app", bare_port, THREADS, WEB_WORKERS), dict(os.environ), bare_port
    ):
        for delay in (None, 0, 200, 1000):  # None: no inbox worker competing for the machine
            pb, site = free_port(), free_port()
            env = gateway_env(url, pb)
            env["BENCH_WORKER_STATS"] = str(LOGS / "intake-worker.stats")
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


@dataclass(frozen=True)
class Sample:
    """The counters at one moment: processed messages, statements, worker and backend CPU."""

    at: float
    processed: int
    statements: int
    worker_cpu: float
    pg_cpu: float


@dataclass(frozen=True)
class Figures:
    rate: float  # messages/s
    worker_ms: float  # worker CPU per message
    pg_ms: float  # PostgreSQL backend CPU per message
    statements: float  # per message
    left: int  # messages of the backlog not processed (flagged, still queued)


class Meter:
    """Reads the workers' stats files and their PostgreSQL backends' CPU from /proc. A
    backend's CPU is summed from the first time it is seen (its CPU then is subtracted)."""

    def __init__(self, url: str, stats: list[Path], after: int) -> None:
        self.engine = sa.create_engine(url, poolclass=sa.pool.StaticPool)
        self.stats, self.after = stats, after
        self.backends: dict[int, float] = {}

    def sample(self) -> Sample:
        with self.engine.connect() as conn:
            processed = conn.execute(
                sa.text(
                    "SELECT count(*) FROM notifications WHERE id > :a AND status = 'processed'"
                ),
                {"a": self.after},
            ).scalar()
            pids = conn.execute(
                sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"),
                {"n": APP_NAME},
            ).scalars()
            pg = 0.0
            for pid in pids:
                used = cpu_seconds(pid)
                pg += used - self.backends.setdefault(pid, used)
        statements, worker = 0, 0.0
        for path in self.stats:
            with contextlib.suppress(OSError, ValueError):
                count, cpu = path.read_text().split()
                statements, worker = statements + int(count), worker + float(cpu)
        return Sample(time.monotonic(), int(processed or 0), statements, worker, pg)


def drain(url: str, backlog: backlogs.Backlog, delay: int, workers: int, limit: float) -> Figures:
    """Queue the backlog, start the workers, and measure from the first processed message
    to the last (the start-up of the workers is not counted)."""
    after = backlogs.load_inbox(url, backlog)
    n = len(backlog.bodies)
    pb = free_port()
    worker_url = f"{url}?application_name={APP_NAME}"
    stats = [LOGS / f"{backlog.kind}-{delay}-{workers}-{k}.stats" for k in range(workers)]
    meter = Meter(url, stats, after)
    with (
        started(
            [sys.executable, "bench/postback_server.py", str(pb), str(delay)], {**os.environ}, pb
        ),
        contextlib.ExitStack() as stack,
    ):
        for path in stats:
            env = gateway_env(worker_url, pb)
            env["BENCH_WORKER_STATS"] = str(path)
            stack.enter_context(started(WORKER, env))
        first = last = None
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            last = meter.sample()
            if first is None and last.processed:
                first = last
            if last.processed >= n:
                break
            time.sleep(0.05)
    meter.engine.dispose()
    assert first is not None and last is not None, "nothing was processed"
    done = max(last.processed - first.processed, 1)
    return Figures(
        rate=done / max(last.at - first.at, 1e-9),
        worker_ms=1000 * (last.worker_cpu - first.worker_cpu) / done,
        pg_ms=1000 * (last.pg_cpu - first.pg_cpu) / done,
        statements=(last.statements - first.statements) / done,
        left=n - last.processed,
    )


def exactly_once(url: str, run: str, backlog: backlogs.Backlog) -> list[str]:
    """What applying the backlog once must leave: its new subscriptions, each with its
    member; its payments, each with one receipt."""
    problems = []
    subs = scalar(
        url,
        f"SELECT count(*) FROM subscriptions WHERE paypal_id LIKE 'I-{run}%' "
        "AND user_id IS NOT NULL",
    )
    pays = scalar(url, f"SELECT count(*) FROM payments WHERE txn_id LIKE '{run}%'")
    receipts = scalar(
        url,
        f"SELECT count(*) FROM receipts r JOIN payments p ON p.id = r.payment_id "
        f"WHERE p.txn_id LIKE '{run}%'",
    )
    if subs != backlog.subscriptions:
        problems.append(f"{subs} new subscriptions with a member, expected {backlog.subscriptions}")
    if pays != backlog.payments or receipts != pays:
        problems.append(f"{pays} payments ({receipts} receipts), expected {backlog.payments}")
    return problems


#: (backlog, postback delay ms, workers): the renewals first, the baseline of the others.
RUNS = [
    ("renewals", 0, 1),
    ("renewals", 0, 2),
    ("renewals", 200, 1),
    ("renewals", 200, 2),
    ("launch", 0, 2),
    ("launch", 200, 1),
    ("launch", 200, 2),
    ("mix", 200, 2),
]


def processing(url: str, n: int, limit: float) -> list[str]:
    """Prints the processing table; returns the missed targets."""
    missed: list[str] = []
    print(
        f"\nProcessing backlogs of about {n} messages (bench/backlogs.py), measured from the first"
    )
    print(
        "message processed to the last; CPU and statements per message; "
        "x: ÷ renewals at the same delay and workers"
    )
    print(
        f"{'backlog':>9} {'delay':>6} {'workers':>7} {'msg/s':>7} {'worker ms':>10} {'pg ms':>7}"
        f" {'stmts':>6} {'x cpu':>6} {'x stmts':>7} {'left':>5}"
    )
    base: dict[tuple[int, int], Figures] = {}
    for kind, delay, workers in RUNS:
        run = f"{kind[0].upper()}{delay}W{workers}"
        if kind == "renewals":
            backlog = backlogs.renewals(run, n)
        elif kind == "launch":
            backlog = backlogs.launch(run, backlogs.open_checkouts(url, n // 2))
        else:
            units = n // 9
            backlog = backlogs.mix(run, units, backlogs.open_checkouts(url, units))
        got = drain(url, backlog, delay, workers, limit)
        ref = base.setdefault((delay, workers), got)
        print(
            f"{kind:>9} {delay:>3} ms {workers:>7} {got.rate:>7.0f} {got.worker_ms:>10.2f}"
            f" {got.pg_ms:>7.2f} {got.statements:>6.1f} {got.worker_ms / ref.worker_ms:>6.2f}"
            f" {got.statements / ref.statements:>7.2f} {got.left:>5}"
        )
        problems = exactly_once(url, run, backlog) if not got.left else []
        if got.left:
            problems.append(f"{got.left} messages not processed within {limit:.0f} s")
        missed += [f"{kind} {delay} ms x{workers}: {p}" for p in problems]
        if (delay, workers) == (200, 2):
            target = {"renewals": RENEWAL_TARGET, "launch": LAUNCH_TARGET}.get(kind)
            if target and got.rate < target:
                missed.append(
                    f"{kind} at 200 ms with 2 workers {got.rate:.0f} msg/s (< {target:.0f})"
                )
        if kind == "launch" and got.worker_ms > LAUNCH_CPU_TARGET:
            missed.append(
                f"launch {delay} ms x{workers}: {got.worker_ms:.2f} ms worker CPU a message"
            )
    return missed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk run length")
    parser.add_argument("--rounds", type=int, default=3, help="intake rounds per row")
    parser.add_argument("--limit", type=float, default=90.0, help="max seconds per processing run")
    parser.add_argument("--no-intake", action="store_true", help="processing only")
    args = parser.parse_args()
    if not args.no_intake and shutil.which("wrk") is None:
        sys.exit("wrk is needed (Debian: apt-get install wrk)")
    print(f"process logs: {LOGS}")
    n = args.messages
    with database() as url:
        seed(url, n, n)
        missed = [] if args.no_intake else intake(url, args.seconds, args.rounds)
        missed += processing(url, n, args.limit)
    if missed:
        targets = (
            f"intake >= {INTAKE_TARGET}x, renewals >= {RENEWAL_TARGET:.0f}/s, launch >= "
            f"{LAUNCH_TARGET:.0f}/s and <= {LAUNCH_CPU_TARGET} ms worker CPU a message"
        )
        sys.exit(f"targets missed ({targets}):\n  " + "\n  ".join(missed))
    print("targets met")


if __name__ == "__main__":
    main()
