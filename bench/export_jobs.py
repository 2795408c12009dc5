"""Large exports through the `exports` job, on PostgreSQL: time, CPU, memory, statements.

Seeds a throwaway database with generate_series (the shape of bench/admin_scale.py's data;
schema through the real migrations), then, for each
export of every row (subscriptions, payments, members), queues it and runs the job in a
child process of its own, reporting: rows written (checked against a count of the file),
seconds, CPU seconds per 100,000 rows, the child's peak memory (VmHWM) and its memory
before the export, and the SQL statements run (progress reports included). Exits 1 if a
file's row count differs from the export's or the peak exceeds 150 MB.

Needs PostgreSQL (BENCH_DATABASE_URL, default the local server); the database is dropped.
Usage: python bench/export_jobs.py [--quick] [--subscriptions N] [--payments M]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.processing import database  # noqa: E402

EXPORT_MB = 150.0
KINDS: tuple[tuple[str, dict[str, str]], ...] = (
    ("subscriptions", {"view": "all"}),
    ("payments", {}),
    ("members", {}),
)
PLANS = 5


def seed(url: str, subs: int, pays: int) -> None:
    """Schema via migrations; plans, users, subscriptions, payments and an admin in SQL."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from gateway import create_app

    with create_app(_config(url), instance_path=tempfile.mkdtemp()).app_context():
        upgrade()
    users = max(1, subs * 4 // 5)
    steps = [
        f"""INSERT INTO plans (code, name, price, currency, period_count, period_unit,
            active, created_at)
            SELECT 'plan-' || g, 'Plan ' || g, 9.00, 'USD', 1, 'M', true, now()
            FROM generate_series(1, {PLANS}) g""",
        f"""INSERT INTO users (email, password_hash, is_admin, access_version, session_token,
            created_at)
            SELECT substr(md5(g::text), 1, 6) || '.' || g || '@example.com', 'x', false, 1,
                   md5('t' || g), now() - (g % 1000) * interval '1 day'
            FROM generate_series(1::bigint, {users}) g""",
        """INSERT INTO users (email, password_hash, is_admin, access_version, session_token,
            created_at) VALUES ('admin@exports.example', 'x', true, 1, 'bench', now())""",
        f"""INSERT INTO subscriptions (user_id, plan_id, paypal_id, state, started_at,
            paid_through, grace_until, access_until, created_at, updated_at)
            SELECT CASE WHEN g % 50 = 7 THEN NULL ELSE 1 + (g * 7919) % {users} END,
                   CASE WHEN g % 100 = 3 THEN NULL ELSE 1 + g % {PLANS} END,
                   'I-' || upper(substr(md5('p' || g), 1, 10)) || g,
                   (ARRAY['active','active','active','cancelled','suspended','ended',
                          'pending','revoked'])[1 + g % 8],
                   now() - ((g * 31) % 900) * interval '1 day',
                   date_trunc('day', now()) + ((g * 13) % 730 - 370) * interval '1 day',
                   CASE WHEN g % 10 = 1 THEN date_trunc('day', now())
                        + ((g * 13) % 730 - 365) * interval '1 day' END,
                   date_trunc('day', now()) + ((g * 13) % 730 - 365) * interval '1 day',
                   now(), now()
            FROM generate_series(1::bigint, {subs}) g""",
        f"""INSERT INTO payments (subscription_id, txn_id, status, amount, currency, fee,
            paid_at, period_start, period_end, created_at)
            SELECT 1 + (g * 104729) % {subs}, upper(substr(md5('t' || g), 1, 9)) || g,
                   (ARRAY['Completed','Completed','Completed','Completed','Completed',
                          'Completed','Completed','Completed','Refunded','Pending'])[1 + g % 10],
                   9.00, 'USD', 0.56,
                   now() - ((g * 37) % 1000000) * interval '30 seconds',
                   now() - interval '10 days', now() + interval '20 days', now()
            FROM generate_series(1::bigint, {pays}) g""",
    ]
    engine = sa.create_engine(_config(url)["SQLALCHEMY_DATABASE_URI"])
    with engine.begin() as conn:
        for sql in steps:
            conn.execute(sa.text(sql))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()


def _config(url: str) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": url.replace("postgresql://", "postgresql+psycopg://", 1),
        "SECRET_KEY": "bench-secret-key-0123456789",
        "TESTING": True,
    }


def peak_rss_mb() -> float:
    """This process's own peak resident memory (VmHWM; ru_maxrss survives fork and exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(url: str, kind: str, instance: str) -> None:
    """Queue one export and run the job once; print the figures on one line."""
    from datetime import UTC, datetime

    import sqlalchemy as sa
    from sqlalchemy import event

    from gateway import create_app
    from gateway.exports import files
    from gateway.exports import job as export_job
    from models import ExportRequest, User, db

    app = create_app(_config(url), instance_path=instance)
    with app.app_context():
        statements = [0]
        event.listen(
            db.engine,
            "before_cursor_execute",
            lambda *a: statements.__setitem__(0, statements[0] + 1),
        )
        admin = db.session.scalar(sa.select(User).where(User.is_admin.is_(True)))
        assert admin is not None
        filters = dict(KINDS)[kind]
        export = files.request_export(kind, filters, admin.id, datetime.now(UTC))
        before_mb, statements[0] = peak_rss_mb(), 0
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        export_job.run(datetime.now(UTC), "bench-runner")
        seconds = time.perf_counter() - started
        used = resource.getrusage(resource.RUSAGE_SELF)
        cpu_s = used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime
        db.session.expire_all()
        done = db.session.get(ExportRequest, export.id)
        assert done is not None
        assert done.file_name, (done.status, done.error)
        with open(files.export_dir() / done.file_name, "rb") as f:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
        print(
            f"{done.rows_written} {lines - 1} {done.file_bytes} {seconds:.1f} {cpu_s:.1f} "
            f"{before_mb:.1f} {peak_rss_mb():.1f} {statements[0]}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=1_000_000)
    parser.add_argument("--payments", type=int, default=5_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 / 500,000 rows")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    if args.quick:
        args.subscriptions, args.payments = 100_000, 500_000
    failures = 0
    with database() as url, tempfile.TemporaryDirectory() as instance:
        print(f"seeding {args.subscriptions:,} subscriptions, {args.payments:,} payments")
        seed(url, args.subscriptions, args.payments)
        for kind, _ in KINDS:
            out = subprocess.run(
                [sys.executable, __file__, "--child", url, kind, instance],
                capture_output=True,
                text=True,
                env=os.environ | {"PYTHONPATH": str(ROOT)},
            )
            if out.returncode:
                raise SystemExit(f"export {kind} failed:\n{out.stderr[-3000:]}")
            rows, lines, size, secs, cpu, before, peak, stmts = out.stdout.split()[-8:]
            per = float(cpu) / max(1, int(rows)) * 100_000
            ok = int(rows) == int(lines) and float(peak) < EXPORT_MB
            failures += not ok
            print(
                f"  {kind:<14} {int(rows):>10,} rows ({int(lines):,} in the file) "
                f"{int(size) / 1e6:7.1f} MB  {float(secs):6.1f} s  {per:5.2f} CPU s/100k rows  "
                f"memory {float(before):.0f} -> {float(peak):.0f} MB peak  "
                f"{int(stmts):,} statements{'' if ok else '  MISSED'}",
                flush=True,
            )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
