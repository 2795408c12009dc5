"""The admin tables at scale, on PostgreSQL: every view, filter, search, sort and deep page.

Seeds a throwaway database with generate_series (schema through the real migrations),
then times each admin page server-side: an in-process Flask test client with a logged-in
admin, the median of several runs after a warm-up. Pages are timed first, in the middle
(by a cursor at the middle row's key) and last. Also: each CSV export of every row with
the peak memory of the process that streams it (its own peak, in a child), and the log-in of
a member who has 100 subscriptions (the password hash, fast for the bench user, is timed
apart and reported). The export's peak is the child's own VmHWM (see `peak_rss_mb`).

Prints each figure with its target (pages 100 ms, log-in 20 ms, export 150 MB peak) and
exits 1 if any is missed.

Needs PostgreSQL (BENCH_DATABASE_URL, default the local server); the database is dropped.
Usage: python bench/admin_scale.py [--quick] [--subscriptions N] [--payments M] [--runs R]
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.admin_seed import HUNDRED, PLANS, seed  # noqa: E402
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
    """(name, ms, target) for every admin page this bench covers."""
    from sqlalchemy import select

    from gateway import paging as keyset
    from gateway.subscriptions import listing as queries
    from models import Payment, Subscription, User, db

    app = _app_with_login(url)
    results: list[tuple[str, float, float]] = []
    with app.app_context():
        admin = User(email="admin@bench.example", is_admin=True, created_at=_now())
        admin.set_password("bench-password", FAST_HASH)
        db.session.add(admin)
        db.session.commit()
        client = app.test_client()
        assert client.get(f"/_bench/login/{admin.id}").status_code == 204
        n_subs = db.session.scalar(select(Subscription.id).order_by(Subscription.id.desc())) or 1
        n_pays = db.session.scalar(select(Payment.id).order_by(Payment.id.desc())) or 1
        mid_sub = db.get_or_404(Subscription, n_subs // 2)
        mid_pay = db.get_or_404(Payment, n_pays // 2)
        mid_user = db.get_or_404(User, max(1, (n_subs * 4 // 5) // 2))
        probe = db.get_or_404(Subscription, n_subs // 3)
        assert probe.paypal_id
        with app.test_request_context():

            def cursor(sort: str, desc: bool, key: keyset.SortKey, row) -> str:
                return keyset.encode(keyset.Cursor(sort, desc, key.value(row), row.id))

            sub_cursors = {
                (sort, desc): cursor(sort, desc, key, mid_sub)
                for sort, key in queries.SORTS.items()
                for desc in (False, True)
            }
            pay_cursor = cursor("paid_at", True, _payments_key(), mid_pay)
            member_cursor = cursor("email", False, _member_key(), mid_user)

        def page(path: str, **args: str) -> Callable[[], object]:
            def get() -> None:
                r = client.get(path, query_string=args)
                assert r.status_code == 200, (path, args, r.status_code, r.data[:300])

            return get

        def add(name: str, fn: Callable[[], object], target: float = PAGE_MS) -> None:
            ms = timed(fn, runs)
            results.append((name, ms, target))
            print(f"  {name:<58} {ms:8.1f} ms  (target < {target:.0f})", flush=True)

        subs = "/admin/subscriptions"
        for view in queries.VIEWS:
            add(f"subscriptions view={view}", page(subs, view=view))
            add(f"subscriptions view={view} last", page(subs, view=view, last="1"))
        for sort in queries.SORTS:
            for desc in (False, True):
                d = "desc" if desc else "asc"
                base = {"view": "all", "sort": sort, "dir": d}
                add(f"subscriptions sort={sort} {d} first", page(subs, **base))
                add(
                    f"subscriptions sort={sort} {d} middle",
                    page(subs, **base, after=sub_cursors[(sort, desc)]),
                )
                add(
                    f"subscriptions sort={sort} {d} middle, previous",
                    page(subs, **base, before=sub_cursors[(sort, desc)]),
                )
                add(f"subscriptions sort={sort} {d} last", page(subs, **base, last="1"))
        add("subscriptions page=10", page(subs, view="all", page="10"))
        add("subscriptions active plan=plan-2", page(subs, view="active", plan="plan-2"))
        add("subscriptions all state=suspended", page(subs, view="all", state="suspended"))
        add(
            "subscriptions active plan+state, sort member desc",
            page(subs, view="active", plan="plan-3", state="active", sort="member", dir="desc"),
        )
        add(
            "subscriptions expired state=ended, sort started, last",
            page(subs, view="expired", state="ended", sort="started", last="1"),
        )
        add("subscriptions grace sort paid_through", page(subs, view="grace", sort="paid_through"))
        add("subscriptions grace sort started", page(subs, view="grace", sort="started"))
        add(
            "subscriptions grace sort member desc, last",
            page(subs, view="grace", sort="member", dir="desc", last="1"),
        )
        add("search exact PayPal id", page(subs, view="all", q=probe.paypal_id))
        add("search PayPal id prefix", page(subs, view="all", q=probe.paypal_id[:8]))
        email = probe.user.email if probe.user else "abc"
        add("search e-mail prefix (upper case)", page(subs, view="all", q=email[:5].upper()))
        add("search no match", page(subs, view="all", q="zzzz-nobody"))

        pays = "/admin/payments"
        add("payments first", page(pays))
        add("payments middle", page(pays, after=pay_cursor))
        add("payments last", page(pays, last="1"))
        add("payments status=Refunded first", page(pays, status="Refunded"))
        add("payments status=Refunded last", page(pays, status="Refunded", last="1"))
        add("payments search txn id", page(pays, q=mid_pay.txn_id))
        add("payments search txn prefix", page(pays, q=mid_pay.txn_id[:6]))
        add("payments search PayPal subscription id", page(pays, q=probe.paypal_id))

        members = "/admin/members"
        add("members first", page(members))
        add("members middle", page(members, after=member_cursor))
        add("members last", page(members, last="1"))
        add("members search prefix", page(members, q=mid_user.email[:4].upper()))
    return results


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


def _payments_key():
    from gateway.admin.payments import PAID_AT

    return PAID_AT


def _member_key():
    from gateway.admin.routes import MEMBER_KEY

    return MEMBER_KEY


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def measure_login(url: str, runs: int) -> list[tuple[str, float, float]]:
    """POST /auth/login for a member with 100 subscriptions, and the hash check alone."""
    from datetime import timedelta

    from werkzeug.security import check_password_hash

    from gateway import create_app
    from models import Subscription, User, db

    app = create_app(_config(url), instance_path=tempfile.mkdtemp())
    with app.app_context():
        now = _now()
        member = User(email="hundred@bench.example", created_at=now)
        member.set_password("bench-password", FAST_HASH)
        db.session.add(member)
        db.session.flush()
        db.session.add_all(
            Subscription(
                user_id=member.id,
                plan_id=1 + i % PLANS,
                state="active" if i % 2 else "ended",
                access_until=now + timedelta(days=i - 50),
                paid_through=now + timedelta(days=i - 55),
                started_at=now - timedelta(days=400),
                created_at=now,
                updated_at=now,
            )
            for i in range(100)
        )
        db.session.commit()
        hash_ms = timed(lambda: check_password_hash(member.password_hash, "bench-password"), runs)

        def login() -> None:
            r = app.test_client().post(
                "/auth/login",
                data={"email": "hundred@bench.example", "password": "bench-password"},
            )
            assert r.status_code == 302, r.data[:300]

        ms = timed(login, runs)
    print(f"  password hash ({FAST_HASH}) alone: {hash_ms:.2f} ms (not counted)")
    name = "member login with 100 subscriptions (less the hash)"
    print(f"  {name:<58} {ms - hash_ms:8.1f} ms  (target < {LOGIN_MS:.0f})")
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
