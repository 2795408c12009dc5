"""The stand-in's clock: real time plus an offset that tests and the demo can advance."""

from __future__ import annotations

import calendar
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


def add_period(start: datetime, count: int, unit: str) -> datetime:
    if unit == "D":
        return start + timedelta(days=count)
    if unit == "W":
        return start + timedelta(weeks=count)
    months = count * (12 if unit == "Y" else 1)
    total = start.month - 1 + months
    year, month = start.year + total // 12, total % 12 + 1
    return start.replace(
        year=year, month=month, day=min(start.day, calendar.monthrange(year, month)[1])
    )
