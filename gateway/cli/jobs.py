"""`flask --app app jobs run | run-once NAME | list`, and `serve-demo` (site + jobs)."""

from __future__ import annotations

import click
from flask import current_app
from sqlalchemy import select
from werkzeug.serving import make_server

from models import JobLease, JobRun, db

from .. import stopping
from ..clock import now
from ..jobs import lease, runner
from ..jobs.registry import job_named, jobs


@click.group("jobs")
def jobs_group() -> None:
    """Scheduled jobs (each runs once per interval across all schedulers)."""


@jobs_group.command("run")
def run() -> None:
    """Run the scheduler in this process until stopped (any number may run).

    SIGTERM stops it, and so does SIGINT (Ctrl-C) unless it was started with SIGINT
    ignored (nohup, a background job of a script): no new run starts, a run in progress
    gets a few seconds to end, else its lease is given back for another scheduler to run
    the job at once. Exits 0 on such a stop, at most 5 s after the signal (1 if it had
    to be cut short at 4.5 s: see gateway/stopping.py).
    """
    stop = stopping.Stop()
    stopping.install(stop, "jobs run")
    scheduler = runner.Jobs(current_app._get_current_object(), stop).start()  # type: ignore[attr-defined]
    names = ", ".join(f"{j.id} every {j.interval.total_seconds():g} s" for j in jobs(_cfg()))
    click.echo(f"scheduler started: {names}")
    stop.wait()
    left = scheduler.shutdown()
    click.echo(f"scheduler stopped{'; leases given back: ' + ', '.join(left) if left else ''}")
    stopping.leave(stop)


@jobs_group.command("run-once")
@click.argument("name")
def run_once(name: str) -> None:
    """Run one job now, whether or not it is due (still never twice at the same time)."""
    try:
        job = job_named(_cfg(), name)
    except LookupError as e:
        raise click.BadParameter(str(e), param_hint="NAME") from None
    lease.ensure((job,), now())
    result = runner.tick(job, lease.owner_id(), force=True)
    if result is None:
        raise click.ClickException(f"{name} is running elsewhere right now; try again later")
    click.echo(f"{name}: {result.outcome.value}: {result.summary}")
    if result.outcome.value != "ok":
        raise SystemExit(1)


@jobs_group.command("list")
def list_jobs() -> None:
    """Each job: interval, next due time, last run and how it ended."""
    leases = {row.name: row for row in db.session.scalars(select(JobLease))}
    for job in jobs(_cfg()):
        last = db.session.scalar(
            select(JobRun).where(JobRun.job == job.id).order_by(JobRun.id.desc()).limit(1)
        )
        due = leases[job.id].next_due_at.isoformat() if job.id in leases else "never run"
        ran = (
            f"{last.started_at:%Y-%m-%d %H:%M:%S} {last.outcome.value}: {last.summary}"
            if last
            else "—"
        )
        click.echo(f"{job.id:18} every {job.interval.total_seconds():>6g} s  due {due}  last {ran}")


@click.command("serve-demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve_demo(host: str, port: int) -> None:
    """The one-process demo: the site, with the jobs on a background thread beside it.

    SIGTERM, or SIGINT (Ctrl-C) unless it was started with SIGINT ignored, stops both: the
    server stops accepting, the jobs as in `jobs run`. Exits 0, at most 5 s after the
    signal (1 if it had to be cut short at 4.5 s: see gateway/stopping.py).
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    stop = stopping.Stop()
    server = make_server(host, port, app, threaded=True)
    # werkzeug's own stop is a KeyboardInterrupt; ours asks its loop to end from another
    # thread. Registered before the signals are routed: shutdown() on this thread, before
    # serve_forever, would wait forever.
    stop.on_stop(server.shutdown)
    stopping.install(stop, "serve-demo")
    scheduler = runner.start_in_background(app, stop)
    server.log_startup()
    try:
        server.serve_forever()
    finally:
        scheduler.shutdown()
    stopping.leave(stop)


def _cfg() -> dict[str, object]:
    return dict(current_app.config)
