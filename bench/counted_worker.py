"""`flask inbox process`, counting what it does for the processing benchmark.

Every SQL statement the worker sends (SQLAlchemy's `before_cursor_execute`: an
executemany counts once, as it is one round trip) and the process's own CPU time
(`os.times()`, every thread) are written to the file named by BENCH_WORKER_STATS every
50 ms, so the benchmark can take both at the moment a backlog's first message is
processed and at its last. Usage: the arguments of `flask inbox process`.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
statements = 0


@event.listens_for(Engine, "before_cursor_execute")
def _count(*_: object) -> None:
    global statements
    statements += 1


def _report(path: Path, stop: threading.Event) -> None:
    tmp = path.with_suffix(".tmp")
    while not stop.wait(0.05):
        t = os.times()
        tmp.write_text(f"{statements} {t.user + t.system}\n")
        tmp.replace(path)  # the reader never sees half a line


def main() -> None:
    from flask.cli import main as flask_main

    stop = threading.Event()
    threading.Thread(
        target=_report, args=(Path(os.environ["BENCH_WORKER_STATS"]), stop), daemon=True
    ).start()
    sys.argv = ["flask", "--app", "app", "inbox", "process", *sys.argv[1:]]
    try:
        flask_main()
    finally:
        stop.set()


if __name__ == "__main__":
    main()
