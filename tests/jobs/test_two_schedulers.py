"""Two real scheduler processes on one PostgreSQL run each job once per interval."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.jobs.registry import JOBS
from models import JobRun

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 30.0


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
    procs = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for _ in range(2)
    ]
    try:
        # Real processes on real time: start-up on a busy machine can take seconds, so wait
        # until every job has run in a few windows (bounded), rather than a fixed sleep.
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline and any(p.poll() is None for p in procs):
            db.session.expire_all()
            counts = Counter(db.session.scalars(select(JobRun.job)).all())
            db.session.rollback()
            if all(counts[job.id] >= 3 for job in JOBS):
                break
            time.sleep(0.2)
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        outputs = [p.communicate(timeout=20)[0].decode() for p in procs]
    assert all("scheduler started" in out for out in outputs), outputs

    db.session.expire_all()
    runs = db.session.scalars(select(JobRun).order_by(JobRun.started_at)).all()
    for job in JOBS:
        mine = [r for r in runs if r.job == job.id]
        windows = Counter(int(r.started_at.timestamp()) for r in mine)
        assert len(mine) >= 3, (job.id, len(mine))
        assert max(windows.values()) == 1, (job.id, windows)  # never twice in one window
        assert all(r.outcome.value == "ok" for r in mine), [(r.summary) for r in mine]
    owners = {r.owner.rsplit(":", 2)[1] for r in runs}  # the pid part
    assert owners <= {str(p.pid) for p in procs}
