"""The admin dashboard at scale, on PostgreSQL: the page and each chart's CSV.

Seeds a throwaway database as bench/admin_scale.py does (its own functions: schema through
the real migrations, then generate_series), adds what the dashboard reads and admin_scale
does not seed (payment facts, failed renewals, partial refunds reported twice, cancels,
flags), runs the dashboard's snapshot job once as the scheduler would, then times the
dashboard page and each chart's CSV server-side (in-process test client, logged-in admin,
median of several runs after a warm-up), with the default window and the widest one.

Prints each figure against its target (100 ms) and exits 1 if any is missed. The snapshot
job itself (what a scheduler tick or an admin's "refresh now" costs) and the numbers
computed live (the page before the snapshot) are printed for reference, not judged.

Needs PostgreSQL (BENCH_DATABASE_URL, default the local server); the database is dropped
unless --keep. Usage:
  python bench/dashboard_scale.py [--quick] [--subscriptions N] [--payments M] [--runs R]
                                  [--keep | --url URL-of-a-kept-database] [--live]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.admin_scale import (  # noqa: E402
    FAST_HASH,
    PAGE_MS,
    _app_with_login,
    _now,
    prepare,
    timed,
)
from bench.processing import database  # noqa: E402

CHARTS = ("active", "movements", "revenue", "renewals", "flags")


def seed_dashboard(url: str, subs: int, pays: int) -> None:
    """What the dashboard reads beyond admin_scale's rows: a completed-payment fact per
    received payment, failed renewals (a third recovered in grace), partial refunds (half
    reported by two channels), cancel dates and open and resolved flags."""
    import sqlalchemy as sa

    steps = [
        # 1 payment in 50 partially refunded (admin_scale seeds Completed/Refunded/Pending).
        """UPDATE payments SET status = 'Partially_Refunded' WHERE id % 50 = 7""",
        """UPDATE subscriptions SET cancelled_at = started_at + (id % 200) * interval '1 day'
           WHERE state = 'cancelled' AND started_at IS NOT NULL""",
        """INSERT INTO subscription_facts (subscription_id, kind, key, at, txn_id, amount,
               source, recorded_at)
           SELECT subscription_id, 'payment_completed', txn_id, paid_at, txn_id, amount,
                  'ipn', now()
           FROM payments WHERE status <> 'Pending'""",
        """INSERT INTO subscription_facts (subscription_id, kind, key, at, txn_id, amount,
               source, recorded_at)
           SELECT subscription_id, 'refunded', 'R' || txn_id || ':' || 'Refunded', paid_at
                  + interval '1 day', txn_id, -3.00, 'ipn', now()
           FROM payments WHERE status = 'Partially_Refunded'""",
        """INSERT INTO subscription_facts (subscription_id, kind, key, at, txn_id, amount,
               source, recorded_at)
           SELECT subscription_id, 'refunded',
                  'R' || txn_id || ':' || 'Refunded' || ':' || 'subscr_payment',
                  paid_at + interval '1 day', txn_id, -3.00, 'ipn', now()
           FROM payments WHERE status = 'Partially_Refunded' AND id % 100 = 7""",
        # Failed renewals: 1 subscription in 5, at some moment in the last 800 days.
        f"""INSERT INTO subscription_facts (subscription_id, kind, key, at, source,
               recorded_at)
           SELECT g, 'payment_failed', 'fail-' || g,
                  now() - ((g * 7) % 800) * interval '1 day' - (g % 86400) * interval '1 s',
                  'ipn', now()
           FROM generate_series(1::bigint, {subs}) g WHERE g % 5 = 2""",
        # A third of them paid 1 day later (recovered), a third 5 days later (too late).
        """INSERT INTO subscription_facts (subscription_id, kind, key, at, txn_id, amount,
               source, recorded_at)
           SELECT subscription_id, 'payment_completed', 'late-' || subscription_id,
                  at + CASE WHEN subscription_id % 3 = 0 THEN interval '1 day'
                            ELSE interval '5 days' END,
                  'late-' || subscription_id, 9.00, 'ipn', now()
           FROM subscription_facts
           WHERE kind = 'payment_failed' AND subscription_id % 3 <> 1""",
        f"""INSERT INTO flags (kind, message, created_at, subscription_id, resolved_at)
           SELECT (ARRAY['amount','unclaimed','seats','receiver','reconcile'])[1 + g % 5],
                  'bench', now() - (g % 500) * interval '1 hour', 1 + g % {subs},
                  CASE WHEN g % 7 <> 0 THEN now() END
           FROM generate_series(1, {max(100, subs // 20)}) g""",
    ]
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        for sql in steps:
            started = time.perf_counter()
            conn.execute(sa.text(sql))
            what = " ".join(sql.split()[:3])
            print(f"  seeded: {what:<40} {time.perf_counter() - started:6.1f} s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()


def measure(url: str, runs: int, live: bool) -> list[tuple[str, float, float]]:
    from sqlalchemy import select

    from gateway.dashboard import snapshots
    from gateway.jobs import lease, runner
    from gateway.jobs.registry import job_named
    from models import DashboardSnapshot, User, db

    app = _app_with_login(url)
    results: list[tuple[str, float, float]] = []
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.email == "admin@bench.example"))
        if admin is None:
            admin = User(email="admin@bench.example", is_admin=True, created_at=_now())
            admin.set_password("bench-password", FAST_HASH)
            db.session.add(admin)
            db.session.commit()
        client = app.test_client()
        assert client.get(f"/_bench/login/{admin.id}").status_code == 204

        def get(path: str, **args: object) -> Callable[[], object]:
            def fetch() -> None:
                r = client.get(path, query_string=args)
                assert r.status_code == 200, (path, args, r.status_code, r.data[:300])

            return fetch

        if live:  # the numbers computed in the request, as before the snapshot
            db.session.query(DashboardSnapshot).delete()
            db.session.commit()
            for name, path in [("page", "/admin/")] + [
                (f"{c}.csv", f"/admin/dashboard/{c}.csv") for c in CHARTS
            ]:
                started = time.perf_counter()
                get(path)()
                ms = (time.perf_counter() - started) * 1000
                print(f"  live (no snapshot): {name:<39} {ms:8.1f} ms  (reference)", flush=True)
                db.session.query(DashboardSnapshot).delete()
                db.session.commit()

        job = job_named(app.config, snapshots.JOB_ID)
        lease.ensure((job,), _now())
        started = time.perf_counter()
        run = runner.tick(job, lease.owner_id(), force=True)
        assert run is not None and run.outcome.value == "ok", run and run.summary
        job_s = time.perf_counter() - started
        print(f"  snapshot job: {run.summary} in {job_s:.1f} s (reference, not judged)")

        def add(name: str, fn: Callable[[], object]) -> None:
            ms = timed(fn, runs)
            results.append((name, ms, PAGE_MS))
            print(f"  {name:<58} {ms:8.1f} ms  (target < {PAGE_MS:.0f})", flush=True)

        for window in ({}, {"weeks": 104, "months": 36}):
            label = " ".join(f"{k}={v}" for k, v in window.items()) or "default window"
            add(f"dashboard page, {label}", get("/admin/", **window))
            for chart in CHARTS:
                add(f"{chart}.csv, {label}", get(f"/admin/dashboard/{chart}.csv", **window))
    return results


@contextlib.contextmanager
def kept_database() -> Iterator[str]:
    import uuid

    import sqlalchemy as sa

    from bench.processing import SERVER

    url = sa.engine.make_url(SERVER)
    name = f"tollgate_dash_{uuid.uuid4().hex[:8]}"
    with sa.create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=1_000_000)
    parser.add_argument("--payments", type=int, default=5_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 / 500,000 rows")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the seeded database")
    parser.add_argument("--url", help="time a database seeded (and kept) by an earlier run")
    parser.add_argument("--live", action="store_true", help="also time the live numbers once")
    args = parser.parse_args()
    if args.quick:
        args.subscriptions, args.payments = 100_000, 500_000
    if args.url:
        where: contextlib.AbstractContextManager[str] = contextlib.nullcontext(args.url)
    else:
        where = kept_database() if args.keep else database()
    with where as url:
        if not args.url:
            print(f"seeding {args.subscriptions:,} subscriptions, {args.payments:,} payments")
            started = time.perf_counter()
            prepare(url, args.subscriptions, args.payments, 0, 0, fresh=True)
            seed_dashboard(url, args.subscriptions, args.payments)
            print(f"  seeded in {time.perf_counter() - started:.0f} s")
            if args.keep:
                print(f"  kept: --url {url}")
        results = measure(url, args.runs, args.live)
    missed = [(n, v, t) for n, v, t in results if v >= t]
    print(f"\n{len(results) - len(missed)} of {len(results)} figures within target")
    for name, value, target in missed:
        print(f"  MISSED: {name}: {value:.1f} (target < {target:.0f})")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
