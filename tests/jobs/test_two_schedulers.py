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
RUN_SECONDS = 4.5


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
        time.sleep(RUN_SECONDS)  # real processes on real time: bounded, then stopped
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
