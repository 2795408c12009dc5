"""A runner killed midway (SIGKILL, a real process) never leaves an export that looks
complete: no `ready` export, no file under the final name; the page says so; the retry
writes every row."""

from __future__ import annotations

import csv
import hashlib
import signal
import sys
import time
from datetime import timedelta

from sqlalchemy import select

from gateway.billing.rules.statuses import ExportStatus
from gateway.exports import files
from gateway.exports import job as export_job
from models import ExportRequest
from tests.servers import BOUND, started

from .helpers import many_subscriptions, process_env

ROWS = 40_000
#: Killed once this many rows are reported written: well inside the export.
KILL_AFTER = 2 * files.PROGRESS_ROWS


def progress(db, export_id: int) -> tuple[ExportStatus, int]:
    found = db.session.execute(
        select(ExportRequest.status, ExportRequest.rows_written).where(
            ExportRequest.id == export_id
        )
    ).one()
    db.session.commit()  # the next look reads afresh
    return found.status, found.rows_written


def test_a_runner_killed_midway_leaves_no_complete_looking_file(
    app, db, clock, admin, make_plan, client, login_as, migrated
):
    """SIGKILL the job runner once it has written some rows: is the export not ready,
    nothing under the final name, the page showing it interrupted (then retried), and
    does the retry write exactly every row?"""
    plan = make_plan("premium-monthly")
    many_subscriptions(plan.id, admin.id, ROWS, clock.now())
    export = files.request_export("subscriptions", {"view": "all"}, admin.id, clock.now())
    env = process_env(migrated, app.instance_path)
    runner = [sys.executable, "-m", "flask", "--app", "app", "jobs", "run-once", "exports"]
    with started(runner, env) as process:
        end = time.monotonic() + BOUND
        while True:
            status, written = progress(db, export.id)
            assert status != ExportStatus.READY, "finished before the kill: add rows"
            if written >= KILL_AFTER:
                break
            assert process.proc.poll() is None, process.text
            assert time.monotonic() < end, f"no progress in {BOUND} s:\n{process.text}"
            time.sleep(0.01)  # polling a real process's progress (its clock is not ours)
        process.proc.send_signal(signal.SIGKILL)
        process.proc.wait(timeout=BOUND)
    db.session.expire_all()
    export = db.session.get(ExportRequest, export.id)
    assert export is not None
    assert export.status == ExportStatus.RUNNING and export.attempts == 1
    assert export.file_name is None and export.sha256 is None
    assert KILL_AFTER <= export.rows_written < ROWS
    final = files.export_dir() / files.file_name(export.id, 1)
    assert not final.exists()
    partial = final.with_name(final.name + ".part")
    assert partial.exists()  # the rows written so far: only ever under the .part name

    login_as(admin)
    assert export.lease_until is not None
    clock.set(export.lease_until + timedelta(seconds=1))  # the dead runner's lease ran out
    page = client.get("/admin/exports").data.decode()
    assert "interrupted" in page and "will be retried (attempt 1 of 3)" in page
    assert f"/admin/exports/{export.id}/download" not in page
    assert client.get(f"/admin/exports/{export.id}/download").status_code == 409

    summary = export_job.run(clock.now(), "test-runner")  # the next run takes it over
    assert f"export {export.id}: {ROWS} row(s)" in summary, summary
    db.session.expire_all()
    export = db.session.get(ExportRequest, export.id)
    assert export is not None and export.status == ExportStatus.READY
    assert (export.attempts, export.rows_written) == (2, ROWS)
    assert export.file_name == files.file_name(export.id, 2)
    done = files.export_dir() / export.file_name
    assert not partial.exists() and not final.exists()
    assert hashlib.sha256(done.read_bytes()).hexdigest() == export.sha256
    with done.open(newline="") as f:
        ids = [row[0] for row in csv.reader(f)][1:]
    assert len(ids) == len(set(ids)) == ROWS
    r = client.get(f"/admin/exports/{export.id}/download")
    assert r.status_code == 200 and len(r.data) == export.file_bytes
