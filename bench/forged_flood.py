"""100,000 forged IPNs from one address at full speed while PayPal's genuine ones keep coming.

The site runs as deployed behind a proxy: gunicorn -w 4 --threads 8 with PROXY_FIX
reading X-Forwarded-For from 127.0.0.1 (a trusted proxy by default), PayPal's published
ranges and the default limits. This script is the proxy's traffic: forged POSTs naming
203.0.113.9 as their sender, 32 connections, as fast as the site answers; genuine renewals
naming 173.0.81.140 (inside PayPal's 173.0.80.0/20), one at a time, GENUINE_EVERY apart.
An inbox worker processes them against the postback stand-in, which answers VERIFIED,
and INVALID for a body carrying the forged mark. Then the retention job runs with a
retention of 0 hours, as an operator's would once the period is over.

Prints: forged answers by status, forged rows stored against the bound the limits set,
their bytes before and after compaction; genuine messages refused (must be 0), processed
in order of arrival (must be all), p50/p99 processing delay; web CPU per forged POST.
Exit 1 when a genuine message is lost, refused or processed out of order, or the junk
stored exceeds the bound.

Needs PostgreSQL (BENCH_DATABASE_URL, default the local server). Everything it starts
listens on 127.0.0.1 and is stopped at the end; the throwaway database is dropped.
Usage: python bench/forged_flood.py [--requests N] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.flood_client import (  # noqa: E402
    CONNECTIONS,
    FORGER,
    GENUINE_EVERY,
    MARK,
    PAYPAL,
    flood,
)
from bench.processing import (  # noqa: E402
    INBOX_PROCESS,
    LOGS,
    WORKER,
    database,
    free_port,
    gateway_env,
    gunicorn,
    seed,
    started,
)
from gateway.config import DefaultConfig  # noqa: E402

WEB_WORKERS, THREADS = 4, 8
#: The flood phase's genuine renewals are of subscriptions from this number on.
OFFSET = 10_000


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children that are still running (gunicorn's workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid] + [
        int(p)
        for p in subprocess.run(
            ["pgrep", "-P", str(pid)], capture_output=True, text=True
        ).stdout.split()
    ]
    for p in pids:
        with contextlib.suppress(FileNotFoundError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def junk(url: str, sender: str = FORGER) -> tuple[int, int, int]:
    """(rows, bytes of body, bytes of headers as JSON text) of what the forger got stored."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows, body, headers = conn.execute(
            sa.text(
                "SELECT count(*), coalesce(sum(length(body)), 0),"
                " coalesce(sum(length(headers::text)), 0)"
                " FROM notifications WHERE remote_addr = :a"
            ),
            {"a": sender},
        ).one()
    engine.dispose()
    return int(rows), int(body), int(headers)


def genuine_rows(url: str, after: int = 0) -> list[tuple[int, str, float | None]]:
    """(id, status, seconds from receipt to processing, processed_at) of PayPal's messages
    with an id above `after`, by id."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id, status, extract(epoch FROM processed_at - received_at), processed_at "
                "FROM notifications WHERE remote_addr = :a AND id > :after ORDER BY id"
            ),
            {"a": PAYPAL, "after": after},
        ).all()
    engine.dispose()
    return [(r[0], r[1], r[2], r[3]) for r in rows]  # type: ignore[misc]


def wait_processed(url: str, expected: int, limit: float, after: int = 0) -> list:
    deadline = time.monotonic() + limit
    while True:
        rows = genuine_rows(url, after)
        done = [r for r in rows if r[1] != "pending" and r[1] != "retry"]
        if len(done) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def door_cost(url: str, n: int = 20_000) -> None:
    """In-process: what the door adds to a POST (a PayPal sender, a stranger within its
    limit, one refused), against a shared count in the database (one UPSERT a POST, the
    cheapest cross-process alternative)."""
    from gateway import create_app
    from gateway.flood.guard import guard

    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "INTAKE_SOURCE_PER_MINUTE": 1e9,
            "INTAKE_SOURCE_BURST": 1e9,
            "INTAKE_OTHERS_PER_MINUTE": 1e9,
            "INTAKE_OTHERS_BURST": 1e9,
        }
    )
    door = guard(app)
    cases = {
        "PayPal's range": {"REMOTE_ADDR": PAYPAL},
        "a stranger, allowed": {"REMOTE_ADDR": FORGER},
    }
    print("\nThe door in-process (us per POST, median of 5 runs):")
    for label, environ in cases.items():
        runs = []
        for _ in range(5):
            began = time.perf_counter()
            for _ in range(n):
                door.check(dict(environ), "ipn")
            runs.append((time.perf_counter() - began) / n * 1e6)
        print(f"  {label:>22}: {statistics.median(runs):.2f}")
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE TABLE door_counts (k text PRIMARY KEY, n bigint)"))
        upsert = sa.text(
            "INSERT INTO door_counts VALUES (:k, 1) "
            "ON CONFLICT (k) DO UPDATE SET n = door_counts.n + 1 RETURNING n"
        )
        runs = []
        for _ in range(5):
            began = time.perf_counter()
            for _ in range(n // 20):
                conn.execute(upsert, {"k": FORGER}).scalar()
            runs.append((time.perf_counter() - began) / (n // 20) * 1e6)
        conn.execute(sa.text("DROP TABLE door_counts"))
    engine.dispose()
    print(f"  {'a shared count (UPSERT)':>22}: {statistics.median(runs):.0f}")


def delay_text(delays: list[float]) -> str:
    if not delays:
        return "  nothing processed"
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    return (
        f"  processing delay (receipt to processed): p50 {statistics.median(delays):.2f} s,"
        f" p99 {p99:.2f} s, max {delays[-1]:.2f} s"
    )


def report_delays(label: str, rows: list, sent: int, refused: list) -> None:
    processed = [r for r in rows if r[1] == "processed"]
    print(f"\n{label}: {sent} genuine sent, {len(processed)} processed")
    print(delay_text(sorted(r[2] for r in processed if r[2] is not None)))


def unlimited(url: str, env: dict[str, str], total: int, seconds: float) -> None:
    """For comparison (not judged): the same flood at a site with both limits off."""
    site = free_port()
    off = {"GATEWAY_INTAKE_SOURCE_PER_MINUTE": "0", "GATEWAY_INTAKE_OTHERS_PER_MINUTE": "0"}
    sender = "203.0.113.10"
    with started(gunicorn("app:app", site, THREADS, WEB_WORKERS), env | off, site):
        time.sleep(1.0)
        last = genuine_rows(url)[-1][0]
        codes, sent, _, elapsed = asyncio.run(flood(site, total, seconds, 2 * OFFSET, sender))
        rows = wait_processed(url, sent, 300.0, last)
        stored, size, headers = junk(url, sender)
    print(
        f"\nThe limits off, for comparison: {sum(codes.values()):,} forged POSTs in "
        f"{elapsed:.1f} s, "
        f"answers {dict(sorted(codes.items()))}; stored {stored:,} rows ({size:,} bytes of "
        f"body, {headers:,} of headers)"
    )
    report_delays("  genuine meanwhile", rows, sent, [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100_000, help="forged POSTs")
    parser.add_argument("--seconds", type=float, default=240.0, help="the flood's time limit")
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds without a flood")
    parser.add_argument(
        "--unlimited", type=int, default=0, help="then N forged POSTs with the limits off"
    )
    parser.add_argument("--quick", action="store_true", help="(the same: the size is the point)")
    args = parser.parse_args()
    cfg = DefaultConfig
    print(f"process logs: {LOGS}")
    missed: list[str] = []
    with database() as url:
        seed(url, 2 * OFFSET + int(args.seconds / GENUINE_EVERY) + 100)
        door_cost(url)
        pb, site = free_port(), free_port()
        env = gateway_env(url, pb) | {"GATEWAY_PROXY_FIX": '{"x_for": 1}'}
        with (
            started([sys.executable, "bench/postback_server.py", str(pb), "0", MARK], env, pb),
            started(gunicorn("app:app", site, THREADS, WEB_WORKERS), env, site) as web,
            started(WORKER, env) as worker,
        ):
            time.sleep(1.0)  # gunicorn's workers load the app after its port opens
            # A warm-up, so that no figure includes the worker's start (its first batch).
            _, warm, _, _ = asyncio.run(flood(site, 0, 1.0, OFFSET // 2))
            warmed = wait_processed(url, warm, 60.0)
            after_warm = warmed[-1][0] if warmed else 0
            _, quiet_sent, _, _ = asyncio.run(flood(site, 0, args.baseline, 0))
            quiet = wait_processed(url, quiet_sent, 60.0, after_warm)
            last_quiet = quiet[-1][0] if quiet else 0
            cpu_before, worker_before = cpu_seconds(web.pid), cpu_seconds(worker.pid)
            client_before = time.process_time()
            codes, sent, refused, elapsed = asyncio.run(
                flood(site, args.requests, args.seconds, OFFSET)
            )
            client_cpu = time.process_time() - client_before
            cpu = cpu_seconds(web.pid) - cpu_before
            worker_cpu = cpu_seconds(worker.pid) - worker_before
            rows = wait_processed(url, sent, 120.0, last_quiet)
            stored, size, header_size = junk(url)
            compact = subprocess.run(
                [*INBOX_PROCESS[:3], "jobs", "run-once", "compact-junk"],
                cwd=ROOT,
                env=env | {"GATEWAY_INBOX_JUNK_KEEP_HOURS": "0"},
                capture_output=True,
                text=True,
            )
            _, size_after, header_size_after = junk(url)
            if args.unlimited:
                unlimited(url, env, args.unlimited, args.seconds)
    forged = sum(codes.values())
    minutes = elapsed / 60
    bound = min(
        cfg.INTAKE_SOURCE_BURST + cfg.INTAKE_SOURCE_PER_MINUTE * minutes,
        cfg.INTAKE_OTHERS_BURST + cfg.INTAKE_OTHERS_PER_MINUTE * minutes,
    )
    print(
        f"\nForged: {forged:,} POSTs from {FORGER} in {elapsed:.1f} s ({forged / elapsed:,.0f}/s,"
        f" {CONNECTIONS} connections); answers {dict(sorted(codes.items()))}"
    )
    print(
        f"  web CPU {cpu * 1e6 / max(forged + sent, 1):.0f} us a POST (gunicorn -w {WEB_WORKERS}"
        f" --threads {THREADS}, {cpu:.1f} s in all); meanwhile the sender (this process) "
        f"{client_cpu:.1f} s, the inbox worker {worker_cpu:.1f} s, of {2 * elapsed:.0f} s on "
        "the machine's two cores, shared with other work"
    )
    print(
        f"  stored: {stored} rows ({size:,} bytes of body, {header_size:,} of headers); bound "
        "from the limits "
        f"({cfg.INTAKE_SOURCE_PER_MINUTE}/min, burst {cfg.INTAKE_SOURCE_BURST}): {bound:.0f}"
    )
    print(
        f"  after compact-junk (retention 0 h): {size_after:,} bytes of body, "
        f"{header_size_after:,} of headers ('{{}}' each) "
        f"[{compact.stdout.strip() or compact.stderr.strip()[-200:]}]"
    )
    if stored > bound + 1:  # + 1: our clock and the web processes' start a moment apart
        missed.append(f"{stored} forged rows stored, more than the limits allow ({bound:.0f})")
    if size_after != 0:
        missed.append(f"{size_after} bytes of forged bodies left after compaction")
    report_delays("Baseline (no flood)", quiet, quiet_sent, [])
    processed = [r for r in rows if r[1] == "processed"]
    delays = sorted(r[2] for r in processed if r[2] is not None)
    in_order = all(a[3] <= b[3] for a, b in itertools.pairwise(processed))
    print(
        f"\nGenuine: {sent} sent from {PAYPAL} (one every {GENUINE_EVERY * 1000:.0f} ms), "
        f"{len(refused)} refused, {len(processed)} processed, in order of arrival: {in_order}"
    )
    print(delay_text(delays))
    if refused:
        missed.append(f"{len(refused)} genuine POSTs refused")
    if len(processed) != sent or len(rows) != sent:
        missed.append(f"{len(processed)} of {sent} genuine messages processed ({len(rows)} stored)")
    if not in_order:
        missed.append("genuine messages processed out of order")
    if missed:
        sys.exit("targets missed: " + "; ".join(missed))
    print("targets met")


if __name__ == "__main__":
    main()
