"""One scheduled job, as data (the registry lists them; the lease guards each run)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Job:
    id: str
    interval: timedelta
    #: job(now) -> a one-line summary of what it did; runs inside an app context.
    func: Callable[[datetime], str]
    #: How long one run may hold the job's lease (a crashed runner's lease runs out).
    timeout: timedelta
    description: str
