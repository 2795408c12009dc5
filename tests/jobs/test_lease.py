"""The job lease: each job runs once per interval window, whoever ticks and how often."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from gateway.jobs import lease, runner
from gateway.jobs.registry import JOBS, Job, job_named, jobs
from models import JobLease, JobRun
from models import db as _db


def counting_job(name: str = "drain-inbox", fail: bool = False) -> tuple[Job, list[datetime]]:
    calls: list[datetime] = []

    def func(now: datetime) -> str:
        calls.append(now)
        if fail:
            raise RuntimeError("the job broke")
        return f"call {len(calls)}"

    return Job(name, timedelta(minutes=1), func, timedelta(minutes=5), "test"), calls


def test_windows_are_aligned_to_the_interval():
    """Is the next window the start of the interval after the current one?"""
    at = datetime(2026, 1, 15, 12, 0, 42, tzinfo=UTC)
    assert lease.next_window(at, timedelta(minutes=1)) == datetime(2026, 1, 15, 12, 1, tzinfo=UTC)
    assert lease.next_window(at, timedelta(seconds=2)) == at + timedelta(seconds=2)


def test_a_job_runs_once_per_window(app, db, clock):
    """Ticking again in the same window does nothing; the next window runs it again."""
    job, calls = counting_job()
    lease.ensure((job,), clock.now())
    assert runner.tick(job, "a") is not None
    assert runner.tick(job, "b") is None and runner.tick(job, "a") is None
    clock.advance(seconds=59)  # T0 is 12:00:00, so 12:00:59 is still the same window
    assert runner.tick(job, "b") is None
    clock.advance(seconds=1)
    assert runner.tick(job, "b") is not None
    assert len(calls) == 2
    runs = db.session.scalars(select(JobRun).order_by(JobRun.id)).all()
    assert [(r.owner, r.outcome.value, r.summary) for r in runs] == [
        ("a", "ok", "call 1"),
        ("b", "ok", "call 2"),
    ]


def test_a_failing_job_is_recorded_and_runs_in_its_next_window(app, db, clock):
    """Does a job that raises leave a failed run, a free lease and a next chance?"""
    job, calls = counting_job(fail=True)
    lease.ensure((job,), clock.now())
    run = runner.tick(job, "a")
    assert run is not None and run.outcome.value == "failed"
    assert "the job broke" in (run.summary or "")
    row = db.session.get(JobLease, job.id)
    assert (
        row is not None
        and row.lease_owner is None
        and row.next_due_at == clock.now() + timedelta(minutes=1)
    )
    clock.advance(minutes=1)
    assert runner.tick(job, "a") is not None and len(calls) == 2


def test_a_held_lease_is_respected_until_it_runs_out(app, db, clock):
    """A run that crashed holding the lease blocks others only until its lease expires."""
    job, calls = counting_job()
    lease.ensure((job,), clock.now())
    assert lease.acquire(job, "crashed", clock.now()) is not None  # never released
    clock.advance(minutes=2)
    assert runner.tick(job, "b") is None  # still within the crashed run's 5 minutes
    clock.advance(minutes=4)
    assert runner.tick(job, "b") is not None and len(calls) == 1


def test_run_once_and_list_commands(app, db, runner, clock):
    """Do `jobs run-once NAME` (even when not due) and `jobs list` work?"""
    assert runner.invoke(args=["jobs", "run-once", "expire-checkouts"]).exit_code == 0
    again = runner.invoke(args=["jobs", "run-once", "expire-checkouts"])
    assert again.exit_code == 0 and "0 checkout hold(s) expired" in again.output
    bad = runner.invoke(args=["jobs", "run-once", "no-such-job"])
    assert bad.exit_code == 2 and "no job named" in bad.output
    listing = runner.invoke(args=["jobs", "list"]).output
    assert "expire-checkouts" in listing and "ok: 0 checkout hold(s) expired" in listing
    assert "drain-inbox" in listing and "never run" in listing


def test_intervals_can_be_configured_and_typos_are_refused(app):
    """Is JOB_INTERVALS applied, and an unknown job name a clear error?"""
    assert job_named({"JOB_INTERVALS": {"drain-inbox": 7}}, "drain-inbox").interval == timedelta(
        seconds=7
    )
    assert len(jobs({})) == len(JOBS)
    with pytest.raises(ValueError, match="drain-inbx"):
        jobs({"JOB_INTERVALS": {"drain-inbx": 7}})


@pytest.mark.postgres_only
def test_many_schedulers_ticking_at_once_run_a_job_once(app, db, clock):
    """Twelve threads tick the same due job at the same instant: exactly one runs it."""
    job, calls = counting_job()
    lease.ensure((job,), clock.now())
    barrier, results = threading.Barrier(12), []

    def tick(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                results.append(runner.tick(job, f"scheduler-{i}") is not None)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=tick, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 11 + [True] and len(calls) == 1
