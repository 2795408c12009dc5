"""Importing a 100,000-row Activity CSV with `flask --app app paypal import-activity`:
time, and the command's peak memory against a same-run baseline, on SQLite and on
PostgreSQL (when a server answers on 127.0.0.1:5432; BENCH_POSTGRES names another).

Each database is seeded with 1,000 subscriptions and 85,800 payments; the generated
download (US header, 41 columns, ~30 MB) lists 95,000 payments (9,500 of them unknown to
us, 500 with another amount), 4,000 refunds (100 of them never recorded by us), 1,000
memo rows, and misses 300 payments of ours. The command runs as its own process, as an
operator runs it; its peak RSS is wait4's ru_maxrss for that process alone. Target: the
whole process under 100 MB (interpreter, app and import together); the baseline is the
same command importing a header-only file (start-up, one connection, no rows). The
second import of the same file must change nothing.

Run: .venv/bin/python bench/activity_import.py   (temp folder, throwaway database; ~4 min)
"""

from __future__ import annotations

import csv
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
LIMIT_MB = 100
SUBSCRIPTIONS = 1000
HEADER = [
    "Date", "Time", "TimeZone", "Name", "Type", "Status", "Currency", "Gross", "Fee", "Net",
    "From Email Address", "To Email Address", "Transaction ID", "Shipping Address",
    "Address Status", "Item Title", "Item ID", "Shipping and Handling Amount",
    "Insurance Amount", "Sales Tax", "Option 1 Name", "Option 1 Value", "Option 2 Name",
    "Option 2 Value", "Reference Txn ID", "Invoice Number", "Custom Number", "Quantity",
    "Receipt ID", "Balance", "Address Line 1", "Address Line 2/District/Neighborhood",
    "Town/City", "State/Province/Region/County/Territory/Prefecture/Republic",
    "Zip/Postal Code", "Country", "Contact Phone Number", "Subject", "Note", "Country Code",
    "Balance Impact",
]  # fmt: skip
PACIFIC = ZoneInfo("America/Los_Angeles")


def env(tmp: str, url: str) -> dict[str, str]:
    return dict(
        os.environ,
        GATEWAY_SQLALCHEMY_DATABASE_URI=url,
        GATEWAY_SECRET_KEY="bench-secret-key-0123456789abcdef",
        GATEWAY_INSTANCE_PATH=tmp,
        PYTHONPATH=str(ROOT),
    )


def plan_rows(now: datetime) -> dict[str, Any]:
    """What the download lists and what we hold, deterministic."""
    rng = random.Random(11)
    payments = int(ROWS * 0.95)
    refunds, memos = int(ROWS * 0.04), ROWS - int(ROWS * 0.95) - int(ROWS * 0.04)
    start = now - timedelta(days=60)
    step = timedelta(days=58) / payments
    listed = []  # (txn, sub, at, amount, ours: None | amount, our status)
    for i in range(payments):
        txn = f"B{i:016d}"
        at = start + step * i
        missing = i % 10 == 3  # 10,000 we never heard of
        ours_amount = None if missing else (Decimal("8.00") if i % 190 == 7 else Decimal("9.00"))
        listed.append((txn, f"I-BENCH{i % SUBSCRIPTIONS:06d}", at, ours_amount))
    present = [p for p in listed if p[3] is not None]
    refunded = rng.sample(range(len(present)), refunds)
    refund_rows = []
    for n, k in enumerate(refunded):
        txn, sub, at, _ = present[k]
        refund_rows.append((f"R{n:016d}", txn, at + timedelta(hours=5), n % 40 != 0))
    # 300 payments of ours PayPal never lists, spread over the download's dates.
    extra = [
        (f"X{i:016d}", f"I-BENCH{i:06d}", start + timedelta(days=2 + i * 0.18)) for i in range(300)
    ]
    memo_for = set(range(0, payments, max(1, payments // max(1, memos)))[:memos])
    return {"listed": listed, "refunds": refund_rows, "memos": memo_for, "extra": extra}


def seed(tmp: str, plan: dict[str, Any], now: datetime) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from gateway import create_app
    from models import Payment, Subscription, db

    app = create_app(instance_path=tmp)
    with app.app_context():
        upgrade()
        db.session.execute(
            insert(Subscription),
            [
                {
                    "paypal_id": f"I-BENCH{i:06d}",
                    "state": "active",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(SUBSCRIPTIONS)
            ],
        )
        subs = dict(db.session.execute(db.select(Subscription.paypal_id, Subscription.id)).all())
        refunded = {parent: ok for _, parent, _, ok in plan["refunds"]}
        rows = [
            {
                "subscription_id": subs[sub],
                "txn_id": txn,
                "status": "Refunded" if refunded.get(txn) else "Completed",
                "amount": amount,
                "currency": "USD",
                "fee": Decimal("0.56"),
                "paid_at": at,
                "created_at": now,
            }
            for txn, sub, at, amount in plan["listed"]
            if amount is not None
        ] + [
            {
                "subscription_id": subs[sub],
                "txn_id": txn,
                "status": "Completed",
                "amount": Decimal("9.00"),
                "currency": "USD",
                "fee": Decimal("0.56"),
                "paid_at": at,
                "created_at": now,
            }
            for txn, sub, at in plan["extra"]
        ]
        for i in range(0, len(rows), 20_000):
            db.session.execute(insert(Payment), rows[i : i + 20_000])
        db.session.commit()
        db.engine.dispose()


def write_csv(path: Path, plan: dict[str, Any]) -> None:
    def local(at: datetime) -> tuple[str, str, str]:
        t = at.astimezone(PACIFIC)
        return t.strftime("%m/%d/%Y"), t.strftime("%H:%M:%S"), "PDT" if t.dst() else "PST"

    blank = dict.fromkeys(HEADER, "")
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        out = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        out.writerow(HEADER)
        events = [(at, "p", (txn, sub), i) for i, (txn, sub, at, _) in enumerate(plan["listed"])]
        events += [(at, "r", (txn, parent), -1) for txn, parent, at, _ in plan["refunds"]]
        events.sort(key=lambda e: e[0])
        for at, kind, (txn, ref), i in events:
            date, clock, zone = local(at)
            row = blank | {
                "Date": date, "Time": clock, "TimeZone": zone, "Name": "José Müller",
                "Status": "Completed", "Currency": "USD", "From Email Address": "buyer@example.com",
                "To Email Address": "merchant@example.com", "Transaction ID": txn,
                "Item Title": "Premium monthly", "Item ID": "premium-monthly",
                "Reference Txn ID": ref, "Quantity": "1",
            }  # fmt: skip
            if kind == "p":
                row |= {
                    "Type": "Subscription Payment", "Gross": "9.00", "Fee": "-0.56", "Net": "8.44",
                    "Balance Impact": "Credit", "Custom Number": f"tok-{txn[-6:]}",
                }  # fmt: skip
                if i in plan["memos"]:  # an authorization first: no money moved
                    memo = row | {
                        "Type": "General Authorization",
                        "Status": "Pending",
                        "Balance Impact": "Memo",
                    }
                    out.writerow(memo.values())
            else:
                row |= {"Type": "Payment Refund", "Gross": "-9.00", "Fee": "0.00", "Net": "-9.00",
                        "Balance Impact": "Debit"}  # fmt: skip
            out.writerow(row.values())


#: Runs the command as its own child and prints that child's peak RSS. Linux counts the
#: RSS of the process a child was forked from in the child's ru_maxrss, so the command is
#: forked from this small interpreter, not from the benchmark (which holds the seed data).
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(f"peak_kb={usage.ru_maxrss}", file=sys.stderr)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_cli(tmp: str, url: str, path: Path) -> dict[str, Any]:
    """`flask --app app paypal import-activity FILE`, as an operator runs it: wall time,
    the process's peak RSS and the figures of its summary line."""
    flask = str(Path(sys.executable).parent / "flask")
    command = [flask, "--app", "app", "paypal", "import-activity", str(path)]
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command],
        env=env(tmp, url),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if proc.returncode:
        sys.exit(f"import failed:\n{proc.stderr[-3000:]}")
    peak_kb = int(re.findall(r"^peak_kb=(\d+)$", proc.stderr, re.M)[-1])
    summary = next(line for line in proc.stdout.splitlines() if line.startswith("Activity"))

    def figure(pattern: str) -> int:
        found = re.search(r"(\d+) " + pattern, summary)
        return int(found.group(1)) if found else 0

    return {
        "peak_mb": peak_kb / 1024,
        "seconds": seconds,
        "summary": summary,
        "rows": figure(r"row\(s\) \("),
        "new_flags": figure(r"new flag"),
        "backfilled": figure(r"payment\(s\) backfilled"),
        "problems": figure(r"unreadable"),
    }


def fingerprint(url: str) -> dict[str, object]:
    """Counts of what an import may change, and a digest of every payment and subscription."""
    import hashlib

    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        counts = {
            t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("flags", "notifications", "payments", "subscriptions", "subscription_facts")
        }
        digest = hashlib.sha256()
        for row in conn.execute(
            sa.text(
                "SELECT txn_id, status, amount, currency, paid_at FROM payments ORDER BY txn_id"
            )
        ):
            digest.update(repr(tuple(row)).encode())
        for row in conn.execute(
            sa.text(
                "SELECT paypal_id, state, paid_through, access_until FROM subscriptions ORDER BY id"
            )
        ):
            digest.update(repr(tuple(row)).encode())
    engine.dispose()
    return counts | {"digest": digest.hexdigest()[:16]}


def postgres_database() -> tuple[str, Callable[[], None]] | None:
    """A throwaway database on the local PostgreSQL server, and how to drop it."""
    import sqlalchemy as sa

    server = os.environ.get(
        "BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    name = f"tollgate_bench_activity_{os.getpid()}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError:
        print("PostgreSQL: no server answers; skipped")
        return None

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return server.rsplit("/", 1)[0] + f"/{name}", drop


def bench(label: str, tmp: str, url: str) -> list[str]:
    """Seed, import twice through the CLI; what failed (empty when every target is met)."""
    began = time.perf_counter()
    os.environ.update(env(tmp, url))
    now = datetime.now(UTC).replace(microsecond=0)
    plan = plan_rows(now)
    seed(tmp, plan, now)
    path = Path(tmp) / "Download.CSV"
    if not path.exists():
        write_csv(path, plan)
    header = Path(tmp) / "Header-only.CSV"
    header.write_text(",".join(f'"{h}"' for h in HEADER) + "\r\n", encoding="utf-8-sig")
    size = path.stat().st_size
    print(f"== {label}: {ROWS:,} rows, {size / 2**20:.1f} MB; {SUBSCRIPTIONS:,} subscriptions "
          f"seeded ({time.perf_counter() - began:.1f} s to generate)")  # fmt: skip

    start_up = run_cli(tmp, url, header)
    first = run_cli(tmp, url, path)
    rate = first["rows"] / first["seconds"]
    print(f"import 1: {first['seconds']:.1f} s ({rate:,.0f} rows/s): {first['summary']}")
    before = fingerprint(url)
    second = run_cli(tmp, url, path)
    after = fingerprint(url)
    changed = "no row changed" if before == after else f"CHANGED: {before} -> {after}"
    print(
        f"import 2: {second['seconds']:.1f} s; {second['new_flags']} new flag(s), "
        f"{second['backfilled']} backfill(s), {changed} ({after['flags']} flags, "
        f"{after['notifications']} messages, {after['payments']} payments before and after)"
    )
    print(
        f"peak RSS of the command: import 1 {first['peak_mb']:.1f} MB, import 2 "
        f"{second['peak_mb']:.1f} MB (limit {LIMIT_MB} MB); baseline, the same command on a "
        f"header-only file: {start_up['peak_mb']:.1f} MB -> the rows' own "
        f"{max(first['peak_mb'], second['peak_mb']) - start_up['peak_mb']:.1f} MB"
    )
    failed = []
    if max(first["peak_mb"], second["peak_mb"]) > LIMIT_MB:
        failed.append(f"{label}: the import's peak RSS was over {LIMIT_MB} MB")
    if before != after or second["new_flags"] or second["backfilled"]:
        failed.append(f"{label}: the second import changed something")
    if first["problems"]:
        failed.append(f"{label}: {first['problems']} row(s) could not be read")
    return failed


def main() -> None:
    began = time.perf_counter()
    tmp = tempfile.mkdtemp(prefix="tollgate-bench-")
    failed = bench("SQLite", tmp, f"sqlite:///{tmp}/bench.sqlite")
    database = postgres_database()
    if database is not None:
        url, drop = database
        try:
            failed += bench("PostgreSQL", tmp, url)
        finally:
            drop()
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"total {time.perf_counter() - began:.0f} s")
    if failed:
        sys.exit("FAILED: " + "; ".join(failed))


if __name__ == "__main__":
    main()
