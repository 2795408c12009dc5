"""The database lease that makes each job run once per interval, however many schedulers run.

Time is cut into windows of the job's interval (aligned to the Unix epoch). A run takes
the job's row only if the row is due (its window has not run yet) and nobody holds it;
when the run ends the row becomes due at the start of the next window. Any number of
scheduler processes on any number of hosts can tick: each window runs the job once.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, update

from models import JobLease, JobRun, db

from .. import metrics
from ..billing.rules.statuses import JobOutcome
from ..database import insert_new
from .job import Job

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def owner_id() -> str:
    """Who runs: host, process and a random part (two schedulers in one process differ)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"[:80]


def next_window(now: datetime, interval: timedelta) -> datetime:
    """The start of the interval window after the one `now` falls in."""
    windows = (now - EPOCH) // interval
    return EPOCH + (windows + 1) * interval


def ensure(jobs: tuple[Job, ...], now: datetime) -> None:
    """Give every job its lease row (due now) if it has none yet."""
    insert_new(
        JobLease,
        [{"name": j.id, "next_due_at": now} for j in jobs],
        unique=("name",),
        returning=("name",),
    )
    db.session.commit()


def acquire(job: Job, owner: str, now: datetime, *, force: bool = False) -> JobRun | None:
    """Take the job's lease if it is due (or `force`d) and free; returns the run record."""
    free = or_(JobLease.lease_until.is_(None), JobLease.lease_until < now)
    stmt = update(JobLease).where(JobLease.name == job.id, free)
    if not force:
        stmt = stmt.where(JobLease.next_due_at <= now)
    result = db.session.execute(stmt.values(lease_owner=owner, lease_until=now + job.timeout))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        return None
    run = JobRun(job=job.id, owner=owner, started_at=now, outcome=JobOutcome.RUNNING)
    db.session.add(run)
    db.session.commit()
    return run


def release(
    job: Job, run: JobRun, now: datetime, outcome: JobOutcome, summary: str, elapsed: float
) -> None:
    """End the run: record how it went and make the job due in its next window."""
    run.finished_at, run.outcome, run.summary = now, outcome, summary[:2000]
    run.duration_ms = int(elapsed * 1000)
    db.session.execute(
        update(JobLease)
        .where(JobLease.name == job.id, JobLease.lease_owner == run.owner)
        .values(
            lease_owner=None,
            lease_until=None,
            next_due_at=next_window(run.started_at, job.interval),
        )
    )
    db.session.commit()
    metrics.job_run(job.id, outcome)


def give_back(names: list[str], owner: str, now: datetime) -> None:
    """A stopping scheduler frees the leases it still holds on `names` (runs that did not
    end in its grace): each job stays due, so any scheduler runs it again at once instead
    of after the lease's timeout. The runs are recorded as interrupted."""
    mine = JobLease.lease_owner == owner
    db.session.execute(
        update(JobLease)
        .where(JobLease.name.in_(names), mine)
        .values(lease_owner=None, lease_until=None)
    )
    db.session.execute(
        update(JobRun)
        .where(JobRun.job.in_(names), JobRun.owner == owner, JobRun.finished_at.is_(None))
        .values(
            finished_at=now,
            outcome=JobOutcome.FAILED,
            summary="interrupted: the scheduler stopped before the run ended; lease given back",
        )
    )
    db.session.commit()
    for name in names:
        metrics.job_run(name, JobOutcome.FAILED)
