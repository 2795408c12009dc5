"""The stand-in's clock: real time plus an offset that tests and the demo can advance."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class SimClock:
    def __init__(self, frozen: datetime | None = None) -> None:
        self._offset = timedelta(0)
        self._frozen = frozen
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            base = self._frozen or datetime.now(UTC)
            return base + self._offset

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += delta
        return self.now()
