"""Where a worker's time goes: cProfile of `drain()` applying a backlog in-process.

Seeds a throwaway PostgreSQL database (bench/backlogs.py), queues a backlog already
verified (no postbacks: only applying is profiled), drains it in this process with
cProfile on, and prints the statements per message (SQLAlchemy's `before_cursor_execute`),
the CPU per message and the functions with the most cumulative and own time.
Usage: python bench/profile_processing.py [launch|renewals|mix] [--messages N] [--top K]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import backlogs
from bench.bench_procs import database


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("kind", nargs="?", default="launch", choices=["launch", "renewals", "mix"])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args()
    n = args.messages
    with database() as url:
        backlogs.seed(url, n, n)
        if args.kind == "launch":
            backlog = backlogs.launch("P", backlogs.open_checkouts(url, n // 2))
        elif args.kind == "renewals":
            backlog = backlogs.renewals("P", n)
        else:
            backlog = backlogs.mix("P", n // 9, backlogs.open_checkouts(url, n // 9))
        backlogs.load_inbox(url, backlog)
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE notifications SET verification = 'VERIFIED'"))
        engine.dispose()
        profile(url, len(backlog.bodies), args.top)


def profile(url: str, n: int, top: int) -> None:
    from gateway import create_app
    from gateway.pipeline.worker import drain

    statements = 0
    callers: Counter[str] = Counter()

    def count(*_: object) -> None:
        """Count the statement, under the innermost gateway/ function that sent it."""
        nonlocal statements
        statements += 1
        frame = sys._getframe(1)
        while frame is not None and "/gateway/" not in frame.f_code.co_filename:
            frame = frame.f_back  # type: ignore[assignment]
        if frame is not None:
            where = f"{Path(frame.f_code.co_filename).stem}.{frame.f_code.co_name}"
            callers[where] += 1

    from gateway.receipts import numbering
    from models import db

    # The receipt counter's row lock: held from issuing until the commit ends.
    held, since = [0.0, 0], list[float]()
    real_issue = numbering.issue

    def issue(*args: Any, **kwargs: Any) -> list[str]:
        numbers = real_issue(*args, **kwargs)
        if numbers and not since:
            since.append(time.perf_counter())
        return numbers

    def committed(_: object) -> None:
        if since:
            held[0] += time.perf_counter() - since.pop()
            held[1] += 1

    numbering.issue = issue
    settings = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "p" * 32, "PAYPAL_MODE": "sim"}
    app = create_app(settings, instance_path=tempfile.mkdtemp())
    event.listen(Engine, "before_cursor_execute", count)
    with app.app_context():
        event.listen(db.session, "after_commit", committed)
        profiler = cProfile.Profile(time.process_time)  # CPU, not waiting for PostgreSQL
        began, cpu = time.perf_counter(), time.process_time()
        profiler.enable()
        handled = drain()
        profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - began
    event.remove(Engine, "before_cursor_execute", count)
    print(
        f"{handled} of {n} messages: {1000 * cpu / handled:.2f} ms CPU a message under the "
        f"profiler ({wall:.1f} s), {statements / handled:.2f} statements a message"
    )
    print(
        f"receipt counter lock held {held[0]:.2f} s in {held[1]} commits "
        f"({100 * held[0] / wall:.1f} % of the drain's {wall:.1f} s; under the profiler)"
    )
    print("statements a message, by the gateway function that sent them:")
    for where, k in callers.most_common(25):
        print(f"  {k / handled:6.2f}  {where}")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


if __name__ == "__main__":
    main()
