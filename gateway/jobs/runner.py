"""Run the jobs: one tick per job per interval, each guarded by the database lease.

`flask --app app jobs run` is a scheduler process of its own (APScheduler's background
scheduler, the main thread waiting for a stop signal); `serve-demo` starts the same jobs
beside the demo server. Either way a web request never runs a job.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask, current_app, g

from models import JobRun, db

from ..billing.rules.statuses import JobOutcome
from ..clock import now
from ..stopping import Stop
from . import lease
from .registry import Job, jobs


def tick(job: Job, owner: str, *, force: bool = False) -> JobRun | None:
    """Run `job` once if its lease can be taken now; returns the run, or None if skipped."""
    run = lease.acquire(job, owner, now(), force=force)
    if run is None:
        return None
    started = time.monotonic()
    try:
        summary, outcome = job.func(now()), JobOutcome.OK
    except Exception as e:  # a failing job is recorded and retried in its next window
        db.session.rollback()
        current_app.logger.exception("job %s failed", job.id)
        summary, outcome = f"{type(e).__name__}: {e}", JobOutcome.FAILED
    lease.release(job, run, now(), outcome, summary, time.monotonic() - started)
    return run


class Jobs:
    """Every job on one background scheduler, and the runs this process has in progress.

    `jobs run` waits on its stop and `serve-demo` serves beside it; either way a stop ends
    the ticking and gives running jobs the stop's grace (see gateway/stopping.py).
    """

    def __init__(self, app: Flask, stop: Stop | None = None) -> None:
        self.app, self.stop = app, stop or Stop()
        self.owner = lease.owner_id()
        self.scheduler = BackgroundScheduler(timezone="UTC", daemon=True)
        self._running: set[str] = set()
        self._changed = threading.Condition()

    def start(self) -> Jobs:
        """Add every job (each tick tries the job's lease) and start ticking."""
        with self.app.app_context():
            defined = jobs(self.app.config)
            lease.ensure(defined, now())
        for job in defined:
            self.scheduler.add_job(
                self._tick,
                IntervalTrigger(seconds=job.interval.total_seconds()),
                args=(job,),
                id=job.id,
                name=job.description,
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, int(job.interval.total_seconds())),
                # At once, not one interval after start: a daily job must not wait for a
                # day that a restart keeps postponing. The lease keeps it to one run per window.
                next_run_time=datetime.now(UTC),
            )
        self.scheduler.start()
        return self

    def _tick(self, job: Job) -> None:
        with self._changed:
            if self.stop.is_set():  # a tick the pool had queued before the stop
                return
            self._running.add(job.id)
        try:
            with self.app.app_context():
                g.stop = self.stop  # drain-inbox looks at it between batches
                try:
                    tick(job, self.owner)
                except Exception:  # the database is down, say: the next tick tries again
                    self.app.logger.exception("scheduling job %s failed", job.id)
                finally:
                    db.session.remove()
        finally:
            with self._changed:
                self._running.discard(job.id)
                self._changed.notify_all()

    def shutdown(self, *, bounded: bool = True) -> list[str]:
        """Stop ticking and wait for the runs in progress: until the stop's grace runs out
        (`bounded`) or until they end. Gives back the leases of runs still going (marking
        the stop `abandoned`); returns their jobs' ids."""
        self.stop.set(self.stop.reason or "scheduler shut down")
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        with self._changed:
            limit = max(0.0, self.stop.deadline() - time.monotonic()) if bounded else None
            self._changed.wait_for(lambda: not self._running, timeout=limit)
            left = sorted(self._running)
        if left:
            self.stop.abandoned = True
            with self.app.app_context():
                try:
                    lease.give_back(left, self.owner, now())
                finally:
                    db.session.remove()
        return left


def start_in_background(app: Flask, stop: Stop | None = None) -> Jobs:
    """The demo's in-process scheduler (a daemon thread); returns it so callers can stop it."""
    return Jobs(app, stop).start()
