"""Refusals counted where every process can read them: the status page and the alert.

Each process adds up its refusals by sender and writes them at most once a minute, at a
refusal (no thread of its own): a flood costs one INSERT a minute a process, and the
counts are at most a minute (and the flood's last minute) behind. The metrics counter
(`tollgate_intake_refused`) is exact and immediate.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

from flask import Flask
from sqlalchemy import insert

from models import IntakeRefusal

from ..clock import now
from ..database import autocommit_engine

#: Seconds between a process's writes.
EVERY = 60.0
#: Senders written one by one per row set; the rest are summed as OTHERS.
TOP = 10
OTHERS = "(others)"


class RefusalLog:
    def __init__(self, app: Flask, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.clock = clock
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._written_at: float | None = None

    def add(self, source: str, reason: str) -> None:
        """Count one refusal; write the counts when the last write is a minute old (the
        first refusal of a process is written at once: a flood shows without delay)."""
        with self._lock:
            self._counts[(source[:64], reason)] += 1
            at = self.clock()
            if self._written_at is not None and at - self._written_at < EVERY:
                return
            self._written_at = at
            counts, self._counts = self._counts, Counter()
        self.write(counts)

    def flush(self) -> None:
        """Write what is counted now (tests, and a process that is stopping)."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
            self._written_at = self.clock()
        if counts:
            self.write(counts)

    def write(self, counts: Counter[tuple[str, str]]) -> None:
        rows = [(s, r, n) for (s, r), n in counts.most_common(TOP)]
        top = {(s, r) for s, r, _ in rows}
        rest = Counter[str]()
        for (source, reason), n in counts.items():
            if (source, reason) not in top:
                rest[reason] += n
        rows += [(OTHERS, reason, n) for reason, n in rest.items()]
        try:
            with self.app.app_context():
                at = now()
                with autocommit_engine().connect() as conn:
                    conn.execute(
                        insert(IntakeRefusal),
                        [{"at": at, "source": s, "reason": r, "refused": n} for s, r, n in rows],
                    )
        except Exception:  # counting must not break refusing; the metrics still count
            self.app.logger.exception("could not record %d refused POSTs", counts.total())
