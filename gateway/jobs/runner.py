"""Run the jobs: one tick per job per interval, each guarded by the database lease.

`flask --app app jobs run` is a scheduler process of its own (APScheduler's blocking
scheduler); `serve-demo` starts the same jobs on a background thread beside the demo
server. Either way a web request never runs a job.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask, current_app

from models import JobRun, db

from ..billing.rules.statuses import JobOutcome
from ..clock import now
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


def _tick_in_context(app: Flask, job: Job, owner: str) -> None:
    with app.app_context():
        try:
            tick(job, owner)
        except Exception:  # the database is down, say: log it, the next tick tries again
            app.logger.exception("scheduling job %s failed", job.id)
        finally:
            db.session.remove()


def build(app: Flask, scheduler: BaseScheduler) -> BaseScheduler:
    """Add every job to `scheduler`; each tick tries the job's lease."""
    owner = lease.owner_id()
    with app.app_context():
        defined = jobs(app.config)
        lease.ensure(defined, now())
    for job in defined:
        scheduler.add_job(
            _tick_in_context,
            IntervalTrigger(seconds=job.interval.total_seconds()),
            args=(app, job, owner),
            id=job.id,
            name=job.description,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(job.interval.total_seconds())),
            # At once, not one interval after start: a daily job must not wait for a day
            # that a restart keeps postponing. The lease keeps it to one run per window.
            next_run_time=datetime.now(UTC),
        )
    return scheduler


def run_forever(app: Flask) -> None:
    """The scheduler process: blocks until interrupted."""
    build(app, BlockingScheduler(timezone="UTC")).start()


def start_in_background(app: Flask) -> BackgroundScheduler:
    """The demo's in-process scheduler (a daemon thread); returns it so callers can stop it."""
    scheduler = BackgroundScheduler(timezone="UTC", daemon=True)
    build(app, scheduler).start()
    return scheduler
