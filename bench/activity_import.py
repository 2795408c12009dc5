"""Importing a 100,000-row Activity CSV: time, and memory against a same-run baseline.

A fresh SQLite database is seeded with 1,000 subscriptions and 85,000 payments; the
generated download (US header, 41 columns, ~30 MB) lists 95,000 payments (9,500 of
them unknown to us, 500 with another amount), 4,000 refunds (100 of them never recorded
by us), 1,000 memo rows, and misses 300 payments of ours. Each import runs in a child process:
its RSS after start-up (interpreter, app and imports: the baseline) and its peak RSS
(VmHWM, the process's own high-water mark; ru_maxrss where /proc is missing, which on
Linux also counts the parent it was forked from) are reported, and the import's own
memory (peak - baseline) must stay under 100 MB. The second import must change nothing;
with BENCH_TRACEMALLOC=1 it also runs under tracemalloc (the Python heap's peak; about
four times slower).

Run: .venv/bin/python bench/activity_import.py   (SQLite in a temp folder; < 3 min)
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
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


def env(tmp: str) -> dict[str, str]:
    return dict(
        os.environ,
        GATEWAY_SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp}/bench.sqlite",
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


def peak_rss_kb() -> int:
    """This process's peak RSS in KiB."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(path: str, trace: bool) -> None:
    """One import in this process; prints JSON figures."""
    import tracemalloc

    from gateway import create_app
    from gateway.reconciliation.importing import import_activity, members

    app = create_app()
    with app.app_context():
        from gateway.clock import now

        baseline = peak_rss_kb()
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        with open(path, "rb") as f:
            report = import_activity(members(f, Path(path).name), Path(path).name, now())
        elapsed = time.perf_counter() - started
        heap = tracemalloc.get_traced_memory()[1] if trace else None
        peak = peak_rss_kb()
    print(
        json.dumps(
            {
                "baseline_kb": baseline,
                "peak_kb": peak,
                "heap_peak": heap,
                "seconds": elapsed,
                "summary": report.summary(),
                "rows": report.tally.rows,
                "new_flags": report.tally.new_flags,
                "backfilled": report.tally.backfilled,
                "problems": report.problem_count,
            }
        )
    )


def fingerprint(tmp: str) -> dict[str, object]:
    """Counts of what an import may change, and a digest of every payment and subscription."""
    import hashlib

    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{tmp}/bench.sqlite")
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


def run_child(tmp: str, path: Path, trace: bool) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(path), "trace" if trace else "plain"],
        env=env(tmp),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if proc.returncode:
        sys.exit(f"import failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    began = time.perf_counter()
    tmp = tempfile.mkdtemp(prefix="tollgate-bench-")
    os.environ.update(env(tmp))
    now = datetime.now(UTC).replace(microsecond=0)
    plan = plan_rows(now)
    seed(tmp, plan, now)
    path = Path(tmp) / "Download.CSV"
    write_csv(path, plan)
    size = path.stat().st_size
    with path.open(encoding="utf-8-sig") as f:
        rows = sum(1 for _ in f) - 1
    print(f"activity: {rows:,} rows, {size / 2**20:.1f} MB; {SUBSCRIPTIONS:,} subscriptions "
          f"seeded ({time.perf_counter() - began:.1f} s to generate)")  # fmt: skip

    first = run_child(tmp, path, trace=False)
    mb = 1024
    own = (first["peak_kb"] - first["baseline_kb"]) / mb
    rate = first["rows"] / first["seconds"]
    print(f"import 1: {first['seconds']:.1f} s ({rate:,.0f} rows/s): {first['summary']}")
    print(
        f"memory:   baseline RSS after start-up {first['baseline_kb'] / mb:.1f} MB, peak RSS "
        f"{first['peak_kb'] / mb:.1f} MB -> the import's own {own:.1f} MB (limit {LIMIT_MB} MB)"
    )
    before = fingerprint(tmp)
    trace = os.environ.get("BENCH_TRACEMALLOC") == "1"
    second = run_child(tmp, path, trace=trace)
    after = fingerprint(tmp)
    own2 = (second["peak_kb"] - second["baseline_kb"]) / mb
    heap = (
        f" under tracemalloc (Python heap peak {second['heap_peak'] / 2**20:.1f} MB)"
        if trace
        else ""
    )
    changed = "no row changed" if before == after else f"CHANGED: {before} -> {after}"
    print(
        f"import 2: {second['seconds']:.1f} s{heap}, peak RSS {second['peak_kb'] / mb:.1f} MB, "
        f"{own2:.1f} MB over its baseline; {second['new_flags']} new flag(s), "
        f"{second['backfilled']} backfill(s), {changed} ({after['flags']} flags, "
        f"{after['notifications']} messages, {after['payments']} payments before and after)"
    )
    print(f"total {time.perf_counter() - began:.0f} s")
    failed = []
    if own > LIMIT_MB or own2 > LIMIT_MB:
        failed.append(f"the import used more than {LIMIT_MB} MB")
    if before != after or second["new_flags"] or second["backfilled"]:
        failed.append("the second import changed something")
    if first["problems"]:
        failed.append(f"{first['problems']} row(s) could not be read")
    if failed:
        sys.exit("FAILED: " + "; ".join(failed))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3] == "trace")
    else:
        main()
