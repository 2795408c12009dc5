"""Two real scheduler processes on one PostgreSQL run each job once per interval."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import select

from gateway.jobs.registry import JOBS
from models import JobRun
from tests.servers import Started, started

#: Generous: real processes on real time start slowly on a busy machine; the runs counted
#: in the database end the wait.
BOUND = 120.0
STOPS_WITHIN = 5.0


@pytest.mark.postgres_only
def test_two_scheduler_processes_run_each_job_once_per_interval(app, db, tmp_path):
    """Each one-second window holds at most one run of each job, whichever process won."""
    env = dict(
        os.environ,
        GATEWAY_SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        GATEWAY_SECRET_KEY="scheduler-test-secret-key-0123456789",
        GATEWAY_INSTANCE_PATH=str(tmp_path),
        GATEWAY_JOB_INTERVALS=json.dumps({job.id: 1 for job in JOBS}),
    )
    command = [sys.executable, "-m", "flask", "--app", "app", "jobs", "run"]
    with started(command, env) as first, started(command, env) as second:
        procs = [first, second]
        for p in procs:
            p.wait_for("scheduler started")
        wait_for_runs(db, procs, each=3)
        took = [p.seconds_to_exit(signal.SIGTERM) for p in procs]
    assert [p.proc.returncode for p in procs] == [0, 0], [p.text for p in procs]
    assert max(took) < STOPS_WITHIN, took

    db.session.expire_all()
    runs = db.session.scalars(select(JobRun).order_by(JobRun.started_at)).all()
    for job in JOBS:
        mine = [r for r in runs if r.job == job.id]
        windows = Counter(int(r.started_at.timestamp()) for r in mine)
        assert len(mine) >= 3, (job.id, len(mine))
        assert max(windows.values()) == 1, (job.id, windows)  # never twice in one window
        assert all(r.outcome.value == "ok" for r in mine), [(r.summary) for r in mine]
    owners = {r.owner.rsplit(":", 2)[1] for r in runs}  # the pid part
    assert owners <= {str(p.proc.pid) for p in procs}


def runs_per_job(db) -> Counter[str]:
    """Runs recorded so far, per job (both processes' commits)."""
    db.session.expire_all()
    counts = Counter(db.session.scalars(select(JobRun.job)).all())
    db.session.rollback()
    return Counter({job.id: counts[job.id] for job in JOBS})


def wait_for_runs(db, procs: list[Started], each: int) -> None:
    """Poll the database until every job has run `each` times; fails if a process ends,
    or after BOUND s."""
    end = time.monotonic() + BOUND
    while min((counts := runs_per_job(db)).values()) < each:
        ended = [p.text for p in procs if p.proc.poll() is not None]
        assert not ended, ended
        assert time.monotonic() < end, f"not within {BOUND:g} s: {dict(counts)}"
        time.sleep(0.2)  # the rows come from other processes: look again
