"""The admin at scale, on PostgreSQL: every view reachable from the navigation.

Seeds a database with generate_series (schema through the real migrations; data shaped
like a real shop: bench/admin_seed.py), then times each admin view server-side: an
in-process Flask test client with a logged-in admin, the median of 5 runs after a warm-up,
beside this process's CPU and the statement count (robust on a loaded machine). The views
(bench/admin_views.py): each list x view x sort x direction x first/next/last page, each
filter and kind of search, the PayPal messages with their filters and searches, flags,
outbox, reconciliation, every detail page, and a member's own /account with 100
subscriptions. Also: each CSV export of every row with the peak memory of the process that
streams it (its own VmHWM, in a child: `peak_rss_mb`), and the log-in of the member with
100 subscriptions (the password hash, fast for the bench user, timed apart).

Prints each figure with its target (pages 100 ms, log-in 20 ms, export 150 MB peak) and
exits 1 if any is missed.

Needs PostgreSQL (BENCH_DATABASE_URL, default the local server). A throwaway database is
dropped; `--keep NAME` seeds NAME once and reuses it (new migrations applied) next time.
Usage: python bench/admin_scale.py [--quick] [--keep NAME] [--no-exports] [--runs R]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import chain
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench import admin_views as views  # noqa: E402
from bench.admin_seed import HUNDRED, seed  # noqa: E402
from bench.processing import SERVER, database  # noqa: E402

PAGE_MS, LOGIN_MS, EXPORT_MB = 100.0, 20.0, 150.0
FAST_HASH = "pbkdf2:sha256:1"


def prepare(url: str, subs: int, pays: int, notes: int, flags: int, fresh: bool) -> None:
    """Schema via the real migrations (a kept database gets any new ones, indexes
    included), then, for a fresh database, the shop in bulk SQL (bench/admin_seed.py)."""
    from flask_migrate import upgrade

    from gateway import create_app

    app = create_app(_config(url), instance_path=tempfile.mkdtemp())
    with app.app_context():
        upgrade()
    if fresh:
        seed(url, subs, pays, notes, flags)


def _config(url: str) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": url.replace("postgresql://", "postgresql+psycopg://", 1),
        "SECRET_KEY": "bench-secret-key-0123456789",
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": "localhost",
        "PASSWORD_HASH_METHOD": FAST_HASH,
        # The streamed CSV's memory at every size (above 50,000 rows the site now sends an
        # admin to the exports job, which bench/export_jobs.py measures).
        "EXPORT_STREAM_MAX_ROWS": 10**9,
    }


def timed(fn: Callable[[], object], runs: int) -> float:
    """Median milliseconds of `fn` over `runs` runs, after one warm-up."""
    fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure_pages(url: str, runs: int) -> list[tuple[str, float, float]]:
    """(name, ms, target) for every admin view (bench/admin_views.py lists them), then a
    page from the middle of each sort of the full list, and the member's own account."""
    from sqlalchemy import event

    from gateway import paging as keyset
    from gateway.subscriptions import listing as queries
    from models import Subscription, User, db

    app = _app_with_login(url)
    results: list[tuple[str, float, float]] = []
    with app.app_context():
        admin = db.session.scalar(db.select(User).where(User.email == "admin@bench.example"))
        if admin is None:
            admin = User(email="admin@bench.example", is_admin=True, created_at=_now())
            admin.set_password("bench-password", FAST_HASH)
            db.session.add(admin)
            db.session.commit()
        client = app.test_client()
        assert client.get(f"/_bench/login/{admin.id}").status_code == 204
        ids, types = views.probes()
        snapshot_dashboard(app)
        mid_sub = db.get_or_404(Subscription, ids["sub_id"])
        with app.test_request_context():
            middles = {
                (sort, desc): keyset.encode(
                    keyset.Cursor(sort, desc, key.value(mid_sub), mid_sub.id)
                )
                for sort, key in queries.SORTS.items()
                for desc in (False, True)
            }

    def body(path: str, args: dict[str, str], by=client) -> str:
        r = by.get(path, query_string=args)
        assert r.status_code == 200, (path, args, r.status_code, r.data[:300])
        return r.get_data(as_text=True)

    sent = [0]
    with app.app_context():
        event.listen(
            db.engine, "before_cursor_execute", lambda *_: sent.__setitem__(0, sent[0] + 1)
        )

    def add(name: str, path: str, args: dict[str, str], by=client) -> None:
        cpu: list[float] = []

        def once() -> None:
            sent[0], started = 0, time.process_time()
            body(path, args, by)
            cpu.append((time.process_time() - started) * 1000)

        ms = timed(once, runs)
        results.append((name, ms, PAGE_MS))
        # This process's CPU and the statement count: robust on a loaded machine, where
        # the wall time includes waiting for a core (and the database's own time).
        print(
            f"  {name:<76} {ms:8.1f} ms  cpu {statistics.median(cpu[1:]):5.1f} ms"
            f"  {sent[0]:2d} statements",
            flush=True,
        )

    lists = chain(views.subscription_views(ids), views.log_views(ids, types))
    for name, path, args in lists:
        for view in views.paged(name, path, args, body):
            add(*view)
    for (sort, desc), cursor in middles.items():
        args = {"view": "all", "sort": sort, "dir": "desc" if desc else "asc"}
        add(
            f"subscriptions all by {sort} {args['dir']}, middle",
            "/admin/subscriptions",
            args | {"after": cursor},
        )
        add(
            f"subscriptions all by {sort} {args['dir']}, middle, previous",
            "/admin/subscriptions",
            args | {"before": cursor},
        )
    for view in views.single_pages(ids):
        add(*view)
    member = app.test_client()
    assert member.get(f"/_bench/login/{ids['hundred_id']}").status_code == 204
    add("member's own /account (100 subscriptions, ~500 payments)", "/account", {}, member)
    return results


def snapshot_dashboard(app) -> None:
    """Run the dashboard's snapshot job once, as the scheduler does: a shop this size shows
    the job's latest numbers (bench/dashboard_scale.py times the dashboard itself)."""
    from gateway.dashboard import snapshots
    from gateway.jobs import lease, runner
    from gateway.jobs.registry import job_named

    job = job_named(app.config, snapshots.JOB_ID)
    lease.ensure((job,), _now())
    run = runner.tick(job, lease.owner_id(), force=True)
    assert run is not None and run.outcome.value == "ok", run and run.summary


def _app_with_login(url: str):
    """The app, plus a bench-only route that logs a user in (as tests/conftest.py does)."""
    from flask_login import login_user

    from gateway import create_app
    from models import User, db

    app = create_app(_config(url), instance_path=tempfile.mkdtemp())
    app.add_url_rule(
        "/_bench/login/<int:uid>",
        view_func=lambda uid: (login_user(db.session.get(User, uid)), ("", 204))[1],
    )
    return app


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def measure_login(url: str, runs: int) -> list[tuple[str, float, float]]:
    """POST /auth/login for the seeded member with 100 subscriptions, and the hash alone."""
    from werkzeug.security import check_password_hash

    from gateway import create_app
    from models import User, db

    app = create_app(_config(url), instance_path=tempfile.mkdtemp())
    with app.app_context():
        member = db.session.scalar(db.select(User).where(User.email == HUNDRED))
        member.set_password("bench-password", FAST_HASH)
        db.session.commit()
        hash_ms = timed(lambda: check_password_hash(member.password_hash, "bench-password"), runs)

        def login() -> None:
            r = app.test_client().post(
                "/auth/login", data={"email": HUNDRED, "password": "bench-password"}
            )
            assert r.status_code == 302, r.data[:300]

        ms = timed(login, runs)
    print(f"  password hash ({FAST_HASH}) alone: {hash_ms:.2f} ms (not counted)")
    name = "member login with 100 subscriptions (less the hash)"
    print(f"  {name:<76} {ms - hash_ms:8.1f} ms  (target < {LOGIN_MS:.0f})")
    return [(name, ms - hash_ms, LOGIN_MS)]


def export_child(url: str, path: str) -> None:
    """In a child process: stream one export to nowhere; print rows, seconds and peak MB."""
    from models import User, db

    app = _app_with_login(url)
    with app.app_context():
        admin = db.session.scalar(db.select(User).where(User.email == "admin@bench.example"))
        admin_id = admin.id
    client = app.test_client()
    assert client.get(f"/_bench/login/{admin_id}").status_code == 204
    started = time.perf_counter()
    r = client.get(path, buffered=False)
    assert r.status_code == 200, r.status_code
    lines = 0
    for chunk in r.response:
        lines += chunk.count(b"\n") if isinstance(chunk, bytes) else chunk.count("\n")
    r.close()
    seconds = time.perf_counter() - started
    print(f"{lines - 1} {seconds:.1f} {peak_rss_mb():.1f}")


def peak_rss_mb() -> float:
    """This process's own peak resident memory (VmHWM). Not ru_maxrss: Linux keeps that
    across fork and exec, so a child started by this bench (itself some 190 MB after
    timing the pages) would report its parent's peak whatever the export used."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_exports(url: str) -> list[tuple[str, float, float]]:
    results = []
    for path in ("/admin/subscriptions.csv?view=all", "/admin/payments.csv", "/admin/members.csv"):
        out = subprocess.run(
            [sys.executable, __file__, "--export-child", path, "--url", url],
            capture_output=True,
            text=True,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
        )
        if out.returncode:
            raise SystemExit(f"export {path} failed:\n{out.stderr[-3000:]}")
        rows, seconds, peak = out.stdout.split()[-3:]
        name = f"export {path} ({int(rows):,} rows, {float(seconds):.0f} s) peak memory"
        print(f"  {name:<58} {float(peak):8.1f} MB  (target < {EXPORT_MB:.0f})", flush=True)
        results.append((name, float(peak), EXPORT_MB))
    return results


@contextmanager
def kept_database(name: str) -> Iterator[tuple[str, bool]]:
    """(url, fresh) of database `name`, created if missing and never dropped: seed once at
    full size, then measure again after a change (its new migrations are applied)."""
    url = sa.engine.make_url(SERVER)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    yield url.set(database=name).render_as_string(hide_password=False), not exists


@contextmanager
def throwaway_database() -> Iterator[tuple[str, bool]]:
    with database() as url:
        yield url, True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=1_000_000)
    parser.add_argument("--payments", type=int, default=5_000_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--flags", type=int, default=5_000)
    parser.add_argument("--quick", action="store_true", help="a tenth of each (flags 1,000)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", metavar="NAME", help="seed into (or reuse) database NAME")
    parser.add_argument("--seed-only", action="store_true", help="seed, measure nothing")
    parser.add_argument("--no-exports", action="store_true", help="pages and log-in only")
    parser.add_argument("--export-child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        export_child(args.url, args.export_child)
        return 0
    if args.quick:
        args.subscriptions, args.payments, args.messages, args.flags = (
            100_000,
            500_000,
            100_000,
            1_000,
        )
    with kept_database(args.keep) if args.keep else throwaway_database() as (url, fresh):
        if fresh:
            print(
                f"seeding {args.subscriptions:,} subscriptions, {args.payments:,} payments, "
                f"{args.messages:,} messages, {args.flags:,} flags"
            )
        started = time.perf_counter()
        prepare(url, args.subscriptions, args.payments, args.messages, args.flags, fresh)
        print(f"  ready in {time.perf_counter() - started:.0f} s", flush=True)
        if args.seed_only:
            return 0
        results = measure_pages(url, args.runs)
        results += measure_login(url, args.runs)
        if not args.no_exports:
            results += measure_exports(url)
    missed = [(n, v, t) for n, v, t in results if v >= t]
    print(f"\n{len(results) - len(missed)} of {len(results)} figures within target")
    for name, value, target in missed:
        print(f"  MISSED: {name}: {value:.1f} (target < {target:.0f})")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
