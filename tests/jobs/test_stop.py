"""A stopping scheduler: a run in progress ends in its grace, or its lease is given back."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from gateway.jobs import lease, runner
from gateway.jobs.registry import Job
from gateway.stopping import Stop
from models import JobLease, JobRun

BOUND = 60.0  # generous: the events below end every wait


@pytest.fixture
def one_job(app, monkeypatch):
    """The scheduler's only job waits until the test lets it end; returns its events."""
    began, release = threading.Event(), threading.Event()

    def func(now: datetime) -> str:
        began.set()
        release.wait(BOUND)
        return "ended"

    job = Job("slow", timedelta(minutes=1), func, timedelta(minutes=5), "waits for the test")
    monkeypatch.setattr(runner, "jobs", lambda config: (job,))
    try:
        yield began, release
    finally:
        release.set()


def test_a_run_that_outlasts_the_grace_gives_its_lease_back(app, db, clock, one_job):
    """Stopped while a run goes on past the grace: is its lease free, the job still due
    (for another scheduler at once), and the run recorded as interrupted?"""
    began, release = one_job
    scheduler = runner.Jobs(app, Stop(grace=0.1)).start()
    try:
        assert began.wait(BOUND)
        assert scheduler.shutdown() == ["slow"]
        assert scheduler.stop.abandoned
        db.session.expire_all()
        row = db.session.scalar(select(JobLease))
        assert (row.lease_owner, row.lease_until) == (None, None)
        assert row.next_due_at <= clock.now()
        run = db.session.scalar(select(JobRun))
        assert run.outcome.value == "failed" and run.finished_at == clock.now()
        assert run.summary.startswith("interrupted")
    finally:
        release.set()
        scheduler.shutdown(bounded=False)  # the job's thread is done before the rows go


def test_a_run_that_ends_in_the_grace_is_waited_for(app, db, clock, one_job):
    """Stopped while a run goes on, does the scheduler wait for it to end within the grace?"""
    began, release = one_job
    stop = Stop(grace=BOUND)
    scheduler = runner.Jobs(app, stop).start()
    try:
        assert began.wait(BOUND)
        stop.on_stop(release.set)  # the run ends once the stop has come
        assert scheduler.shutdown() == []
        assert not stop.abandoned
        db.session.expire_all()
        run = db.session.scalar(select(JobRun))
        assert (run.outcome.value, run.summary) == ("ok", "ended")
        assert db.session.scalar(select(JobLease)).lease_owner is None
    finally:
        release.set()
        scheduler.shutdown(bounded=False)


def test_no_run_starts_after_the_stop(app, db, clock, one_job):
    """Once stopped, does a tick that was already queued leave the job alone?"""
    one_job[1].set()  # were it to run, it would not wait
    job = runner.jobs(app.config)[0]
    lease.ensure((job,), clock.now())  # due: only the stop keeps it from running
    scheduler = runner.Jobs(app, Stop())
    scheduler.stop.set()
    scheduler._tick(job)  # what a tick the pool had queued would do
    assert db.session.scalar(select(JobRun)) is None
    assert not one_job[0].is_set()
