"""`flask rebuild` over a generated database of stored, already-applied messages (issue 13).

Seeds a throwaway database (PostgreSQL by default: `tollgate_bench_rebuild_<random>` on
BENCH_DATABASE_URL's server, dropped at the end; or a SQLite file with --sqlite):

1. Four subscription stories (renewals; a cancel and end of term; a refund; a failed
   payment and a retry: 36 IPNs built like `tests/paypal/ipn_builders.py`) are stored as
   verified messages and applied by the real inbox worker (`drain()`), with the dates
   relative to now so that nothing changes state during the run.
2. Every row that produced (subscriptions, facts, payments, terms, the messages
   themselves) is cloned N/36 times in bulk, each copy with its own PayPal ids and
   transaction ids (in the bodies too) and ids interleaved so that messages stay in
   received order across subscriptions, as if all subscriptions had lived side by side.
   Each copy is exactly what the pipeline would have stored, so rebuild must find 0
   differences.

Then it times `flask rebuild` (dry run; the real command in a child process, its progress
on stderr) and prints messages/s, total time, the number of differences and the peak RSS
(VmHWM) of that process. Baselines, all from the same run:
- memory: the same child's RSS after start-up (app created, one query), and the peak of
  the same rebuild over a database with a tenth of the messages;
- speed: live processing (`drain()` applying the same kind of messages, stored as
  verified, in a fresh database), and a loop that only reads and interprets every
  stored message (the floor any replay pays before applying anything).

Exits 1 if any difference is found, if the peak exceeds 200 MB, or if the peak grows with
the number of messages beyond the plan's 8 bytes a message (+ 8 MB of noise) from the
tenth-size run to the full one.

Usage: python bench/rebuild.py [--quick] [--messages N] [--sqlite] [--batch-size B]
(default 1,000,000 messages; --quick 100,000)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import processing  # noqa: E402

MARK = "QQQQQQ"  # in every PayPal id of the template; each copy puts its number there
PEAK_LIMIT_MB = 200.0
PLAN_BYTES = 8  # the replay plan keeps one 8-byte id a message
NOISE_MB = 8.0


# --- databases -------------------------------------------------------------------------


@contextlib.contextmanager
def database(sqlite: bool, label: str) -> Iterator[str]:
    """A throwaway database URL, dropped (or deleted) afterwards."""
    if sqlite:
        path = Path(tempfile.mkdtemp(prefix="tollgate-bench-rebuild-")) / f"{label}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            path.unlink(missing_ok=True)
        return
    with processing.database() as url:  # created on BENCH_DATABASE_URL's server, dropped after
        yield url


def make_app(url: str) -> Any:
    from gateway import create_app

    return create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-rebuild-0123456"},
        instance_path=tempfile.mkdtemp(),
    )


# --- the template: four stories through the real pipeline ------------------------------


def stories(now: datetime) -> list[tuple[datetime, bytes]]:
    """(payment date, IPN body) of four subscriptions' lives, dated so that none of them
    changes state within hours of `now`."""
    from tests.paypal import ipn_builders as ipn

    out: list[tuple[datetime, bytes]] = []

    def life(n: int, months: int, start: datetime) -> list[str]:
        sub = f"I-S{n}{MARK}"
        out.append((start, ipn.signup(sub, start)))
        txns = []
        for m in range(months):
            txn = f"{n}{m:02d}T{MARK}"
            at = start + timedelta(days=30 * m, minutes=1)
            out.append((at, ipn.payment(sub, txn, at)))
            txns.append(txn)
        return txns

    life(0, 11, now - timedelta(days=300))  # 12 messages: active, paid ~2 months ahead
    begun = now - timedelta(days=400)
    life(1, 5, begun)  # 8 messages: cancelled, then ended long ago
    out.append((begun + timedelta(days=140), ipn.event(f"I-S1{MARK}", "subscr_cancel", begun)))
    out.append((begun + timedelta(days=160), ipn.event(f"I-S1{MARK}", "subscr_eot", begun)))
    txns = life(2, 8, now - timedelta(days=200))  # 10 messages: one payment refunded
    at = now - timedelta(days=150)
    out.append((at, ipn.money_back(txns[1], f"2RF{MARK}", at, "Refunded", "-9.00")))
    begun = now - timedelta(days=120)
    life(3, 3, begun)  # 6 messages: a failed payment, then a retry that went through
    at = begun + timedelta(days=91)
    out.append((at, ipn.event(f"I-S3{MARK}", "subscr_failed", at)))
    out.append((at, ipn.payment(f"I-S3{MARK}", f"399T{MARK}", at + timedelta(days=3))))
    out.sort(key=lambda pair: pair[0])  # received in date order, the stories interleaved
    return out


def store(bodies: list[bytes], at: datetime, pending: bool = True) -> None:
    """Store IPNs as verified messages waiting to be applied (no postback needed)."""
    from models import db

    db.session.execute(
        sa.text(
            "INSERT INTO notifications (channel, received_at, body, headers, status, "
            "attempts, next_attempt_at, verification, verified_at) "
            "VALUES ('ipn', :t, :b, '{}', 'pending', 0, :t, 'VERIFIED', :t)"
        ),
        [{"t": at, "b": b} for b in bodies],
    )
    db.session.commit()


def schema_and_plan(app: Any) -> None:
    from flask_migrate import upgrade

    from gateway.roles.service import ensure_roles
    from models import Plan, db

    with app.app_context():
        upgrade()
        db.session.add(
            Plan(
                code="premium-monthly",
                name="Premium",
                roles=ensure_roles(["premium"], datetime.now(UTC)),
                price=Decimal("9.00"),
                currency="USD",
                period_count=1,
                period_unit="M",
                active=True,
                created_at=datetime.now(UTC),
            )
        )
        db.session.commit()


def seed(url: str, messages: int) -> int:
    """Schema, plan, the template through the pipeline, then copies; returns messages."""
    from gateway.pipeline.worker import drain
    from models import db

    app = make_app(url)
    schema_and_plan(app)
    now = datetime.now(UTC)
    story = stories(now)
    copies = max(1, math.ceil(messages / len(story)))
    with app.app_context():
        store([b for _, b in story], now - timedelta(seconds=5))
        assert drain() == len(story)
        bad = db.session.execute(
            sa.text("SELECT count(*) FROM notifications WHERE status <> 'processed'")
        ).scalar()
        # Only "unclaimed": the IPNs name no checkout, so no member (as for a payment
        # button outside the site); replay finds the rows and raises nothing again.
        flags = db.session.execute(
            sa.text("SELECT count(*) FROM flags WHERE kind <> 'unclaimed'")
        ).scalar()
        assert bad == 0 and flags == 0, f"template: {bad} unprocessed, {flags} other flag(s)"
        started = time.perf_counter()
        rows = clone(db.engine, copies)
        db.engine.dispose()
    print(f"  seeded {rows:,} rows ({copies:,} copies) in {time.perf_counter() - started:.0f} s")
    return copies * len(story)


def clone(engine: sa.Engine, copies: int) -> int:
    """Replace every row the template produced (all tables but plans) by `copies` copies.

    Ids become (id - 1) * copies + k + 1 in every table (and in every foreign key to a
    copied table), so copy k's n-th message follows every copy's (n-1)-th one.
    """
    meta = sa.MetaData()
    meta.reflect(engine)
    tables = [t for t in meta.sorted_tables if t.name not in ("plans", "alembic_version")]
    template: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for t in tables:
            found = [dict(r._mapping) for r in conn.execute(sa.select(t))]
            if found:
                template[t.name] = found
    copied = {name for name in template}
    total = 0
    with engine.begin() as conn:
        for t in reversed(tables):
            if t.name in copied:
                conn.execute(t.delete())
        for t in tables:
            if t.name not in copied:
                continue
            remap = {c.name for c in t.primary_key.columns if c.name == "id"}
            remap |= {
                c.name for c in t.columns for fk in c.foreign_keys if fk.column.table.name in copied
            }
            batch: list[dict[str, Any]] = []
            for row in template[t.name]:
                marked = [k for k, v in row.items() if _has_mark(v)]
                for k in range(copies):
                    tag = f"{k:06d}"
                    new = dict(row)
                    for name in remap:
                        if row[name] is not None:
                            new[name] = (row[name] - 1) * copies + k + 1
                    for name in marked:
                        new[name] = _replace(row[name], tag)
                    batch.append(new)
                    if len(batch) >= 5000:
                        conn.execute(t.insert(), batch)
                        total += len(batch)
                        batch = []
            if batch:
                conn.execute(t.insert(), batch)
                total += len(batch)
            if engine.dialect.name == "postgresql" and "id" in t.columns:
                conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{t.name}', 'id'), "
                        f"(SELECT max(id) FROM {t.name}))"
                    )
                )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    return total


def _has_mark(value: object) -> bool:
    if isinstance(value, str):
        return MARK in value
    if isinstance(value, bytes | memoryview):
        return MARK.encode() in bytes(value)
    if isinstance(value, dict | list):
        return MARK in json.dumps(value)
    return False


def _replace(value: Any, tag: str) -> Any:
    if isinstance(value, str):
        return value.replace(MARK, tag)
    if isinstance(value, bytes | memoryview):
        return bytes(value).replace(MARK.encode(), tag.encode())
    return json.loads(json.dumps(value).replace(MARK, tag))


def seed_inbox(url: str, messages: int) -> int:
    """A fresh database whose inbox holds the same kind of messages, verified, unapplied."""
    app = make_app(url)
    schema_and_plan(app)
    now = datetime.now(UTC)
    story = stories(now)
    copies = max(1, math.ceil(messages / len(story)))
    bodies = [
        b.replace(MARK.encode(), f"{k:06d}".encode()) for _, b in story for k in range(copies)
    ]
    with app.app_context():
        store(bodies, now - timedelta(seconds=5))
        from models import db

        db.engine.dispose()
    return len(bodies)


# --- measured in a child process -------------------------------------------------------


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def child(mode: str, url: str, batch_size: int) -> None:
    """Runs in its own process; prints one JSON line of figures on stdout."""
    from models import db

    app = make_app(url)
    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))
        db.session.rollback()
        rss_start = status_kb("VmRSS")
        began = time.perf_counter()
        figures: dict[str, Any] = {}
        if mode == "rebuild":
            from gateway.cli.commands import rebuild_command

            out = Path(tempfile.mkdtemp()) / "rebuild.out"
            with (
                open(out, "w") as f,
                contextlib.redirect_stdout(f),
                contextlib.suppress(SystemExit),  # exit 1: differences, counted below
            ):
                rebuild_command.main(
                    ["--keep", "20", "--batch-size", str(batch_size)],
                    prog_name="flask rebuild",
                    standalone_mode=False,
                )
            text = out.read_text()
            summary = text.strip().splitlines()[-1]  # "N subscription(s) checked, M difference(s)"
            figures["summary"] = summary
            figures["differences"] = int(summary.split(", ")[1].split()[0])
            figures["first_lines"] = text.strip().splitlines()[:5]
            figures["messages"] = db.session.execute(
                sa.text(
                    "SELECT count(*) FROM notifications "
                    "WHERE status = 'processed' AND verification = 'VERIFIED'"
                )
            ).scalar()
        elif mode == "interpret":
            from gateway.channels.seam import adapter_for
            from gateway.pipeline.worker import received
            from models import Notification

            n = 0
            notes = db.session.scalars(
                sa.select(Notification).order_by(Notification.id).execution_options(yield_per=2000)
            )
            for note in notes:
                adapter_for(note.channel).interpret(received(note))
                n += 1  # rows not kept: the identity map holds them weakly
            db.session.rollback()
            figures["messages"] = n
        elif mode == "live":
            from gateway.pipeline.worker import drain

            figures["messages"] = drain()
        figures["seconds"] = time.perf_counter() - began
        figures["rss_start_mb"] = rss_start / 1024
        figures["peak_mb"] = status_kb("VmHWM") / 1024
    print(json.dumps(figures))


def measure(mode: str, url: str, batch_size: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--url", url, "--batch-size", str(batch_size)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- main ------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="100,000 messages")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file, not PostgreSQL")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--live", type=int, default=5000, help="messages for the live baseline")
    parser.add_argument("--child", choices=["rebuild", "interpret", "live"])
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.url, args.batch_size)
        return 0
    wanted = args.messages or (100_000 if args.quick else 1_000_000)
    engine = "SQLite" if args.sqlite else "PostgreSQL"
    print(f"rebuild bench on {engine}: {wanted:,} messages, batch size {args.batch_size}")

    with database(args.sqlite, "live") as url:
        n = seed_inbox(url, args.live)
        live = measure("live", url, args.batch_size)
    print(f"  live processing: {live['messages']:,} messages in {live['seconds']:.1f} s")

    with database(args.sqlite, "small") as url:
        seed(url, wanted // 10)
        small = measure("rebuild", url, args.batch_size)
    print(
        f"  tenth-size rebuild: {small['messages']:,} messages in {small['seconds']:.1f} s, "
        f"peak {small['peak_mb']:.1f} MB"
    )

    with database(args.sqlite, "full") as url:
        seeded = seed(url, wanted)
        full = measure("rebuild", url, args.batch_size)
        floor = measure("interpret", url, args.batch_size)
    assert n == live["messages"], (n, live)

    rate = full["messages"] / full["seconds"]
    live_rate = live["messages"] / live["seconds"]
    floor_rate = floor["messages"] / floor["seconds"]
    allowed = small["peak_mb"] + PLAN_BYTES * (full["messages"] - small["messages"]) / 2**20
    allowed += NOISE_MB
    rows = [
        ("messages replayed", f"{full['messages']:,} (seeded {seeded:,})", ""),
        ("total time", f"{full['seconds']:,.1f} s", ""),
        (
            "rebuild rate",
            f"{rate:,.0f} messages/s",
            f"{rate / live_rate:.2f} x live processing ({live_rate:,.0f}/s), "
            f"{rate / floor_rate:.3f} x read+interpret only ({floor_rate:,.0f}/s)",
        ),
        (
            "peak RSS (VmHWM)",
            f"{full['peak_mb']:.1f} MB",
            f"start-up {full['rss_start_mb']:.1f} MB; tenth-size run {small['peak_mb']:.1f} MB; "
            f"allowed {min(allowed, PEAK_LIMIT_MB):.1f} MB",
        ),
        ("differences", f"{full['differences']} (tenth-size: {small['differences']})", "must be 0"),
    ]
    print()
    for name, value, note in rows:
        print(f"  {name:<18} {value:<34} {note}")
    if full["differences"] or small["differences"]:
        print("  first lines:", *full["first_lines"], sep="\n    ")
    ok = (
        full["differences"] == 0
        and small["differences"] == 0
        and full["peak_mb"] <= PEAK_LIMIT_MB
        and full["peak_mb"] <= allowed
    )
    print("\nOK" if ok else "\nFAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
