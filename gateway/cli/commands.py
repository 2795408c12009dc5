"""Command-line tools: seed-demo, create-admin, inbox process, rebuild (the jobs are in
`cli/jobs.py`, PayPal's reconciliation in `cli/paypal.py`)."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import Flask, current_app
from sqlalchemy import func, select

from models import Plan, User, db

from ..clock import now
from ..roles import service as roles_service
from ..rulebook import edit as rules_edit
from ..rulebook import store as rules_store

if TYPE_CHECKING:
    from ..reconciliation.rebuild import Rate, Report

DEMO_PLANS = [
    # code, name, roles, price, period count, unit, trial count, trial unit
    ("premium-monthly", "Premium, monthly", ("premium",), "9.00", 1, "M", None, None),
    ("premium-yearly", "Premium, yearly", ("premium",), "90.00", 1, "Y", 7, "D"),
    ("pro-monthly", "Pro, monthly", ("pro", "premium"), "29.00", 1, "M", None, None),
]
#: The demo's roles: name, title, description.
DEMO_ROLES = [
    ("premium", "Premium", "The premium guides and playbooks."),
    ("pro", "Pro", "The pro workshop and its downloads."),
]
#: The demo sells Pro through the Subscriptions API (the stand-in creates this REST plan:
#: see gateway/cli/demo_run.py, which `make run` runs), with a limited number of seats.
DEMO_REST_PLANS = {"pro-monthly": ("P-DEMO-PRO-MONTHLY", 25)}
#: The demo's stored rules (pages say their own access in front matter; files follow these).
DEMO_RULES = [("/pro/**", "pro"), ("/members/**", "members")]
#: The demo's content folder, copied into the instance's CONTENT_DIR when that is missing.
DEMO_CONTENT = Path(__file__).resolve().parents[2] / "demo" / "content"
DEMO_ADMIN = "admin@example.com"
CREDENTIALS_FILE = "demo-credentials.txt"


def register_commands(app: Flask) -> None:
    from ..roles.cli import roles_group
    from ..rulebook.cli import rules_group
    from .jobs import jobs_group, serve_demo
    from .members import members_group
    from .paypal import paypal_group
    from .plans import plans_group

    app.cli.add_command(jobs_group)
    app.cli.add_command(serve_demo)
    app.cli.add_command(inbox_group)
    app.cli.add_command(rebuild_command)
    app.cli.add_command(seed_demo)
    app.cli.add_command(create_admin)
    app.cli.add_command(paypal_group)
    app.cli.add_command(plans_group)
    app.cli.add_command(members_group)
    app.cli.add_command(roles_group)
    app.cli.add_command(rules_group)


@click.command("seed-demo")
@click.option("--if-new", is_flag=True, help="Only seed a database that has no plans yet.")
def seed_demo(if_new: bool) -> None:
    """Create the demo plans and a demo admin, and print the admin's password."""
    creds = Path(current_app.instance_path) / CREDENTIALS_FILE
    if if_new and db.session.scalar(select(func.count()).select_from(Plan)):
        if creds.exists():
            click.echo(creds.read_text().strip())
        return
    at = now()
    for role_name, title, description in DEMO_ROLES:
        if roles_service.named(role_name) is None:
            roles_service.create(role_name, title, description, at=at, actor=None)
    for code, name, roles, price, count, unit, tcount, tunit in DEMO_PLANS:
        if db.session.scalar(select(Plan).where(Plan.code == code)) is None:
            db.session.add(
                Plan(
                    code=code,
                    name=name,
                    roles=roles_service.ensure_roles(roles, at),
                    price=Decimal(price),
                    currency="USD",
                    period_count=count,
                    period_unit=unit,
                    trial_count=tcount,
                    trial_unit=tunit,
                    paypal_plan_id=DEMO_REST_PLANS.get(code, (None, None))[0],
                    seat_limit=DEMO_REST_PLANS.get(code, (None, None))[1],
                    active=True,
                    created_at=at,
                )
            )
    if not rules_store.stored():
        for pattern, who in DEMO_RULES:
            entry = rules_edit.Entry(rules_edit.check(pattern, who), "demo")
            rules_edit.add(entry, at=at, actor=None)
    _seed_content()
    password = secrets.token_urlsafe(12)
    admin = db.session.scalar(select(User).where(User.email == DEMO_ADMIN))
    if admin is None:
        admin = User(email=DEMO_ADMIN, is_admin=True, created_at=at)
        db.session.add(admin)
    admin.is_admin = True
    admin.set_password(password, current_app.config["PASSWORD_HASH_METHOD"])
    db.session.commit()
    line = f"demo admin: {DEMO_ADMIN} / {password}"
    creds.parent.mkdir(parents=True, exist_ok=True)
    creds.write_text(line + "\n")
    creds.chmod(0o600)
    click.echo(line)


def _seed_content() -> None:
    """Copy the demo's pages and files into the content folder, unless it exists."""
    target = Path(current_app.config["CONTENT_DIR"])
    if not target.is_absolute():
        target = Path(current_app.instance_path) / target
    if target.exists() or not DEMO_CONTENT.is_dir():
        return
    shutil.copytree(DEMO_CONTENT, target, symlinks=False)
    click.echo(f"demo content copied to {target}")


@click.command("create-admin")
@click.argument("email")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="The new admin's password (asked for when not given).",
)
def create_admin(email: str, password: str) -> None:
    """Create an admin account, or make an existing member an admin."""
    email = User.normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise click.BadParameter("not an e-mail address", param_hint="EMAIL")
    if len(password) < 10:
        raise click.BadParameter("use at least 10 characters", param_hint="--password")
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, created_at=now())
        db.session.add(user)
        verb = "created"
    else:
        verb = "promoted (password replaced)"
    user.set_password(password, current_app.config["PASSWORD_HASH_METHOD"])
    user.is_admin = True
    db.session.commit()
    click.echo(f"{verb} admin {email}")


@click.group("inbox")
def inbox_group() -> None:
    """The PayPal message inbox."""


@inbox_group.command("process")
@click.option("--loop", is_flag=True, help="Keep processing until stopped.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between idle rounds.")
@click.option("--quiet", is_flag=True, help="Only report rounds that handled something.")
def inbox_process(loop: bool, interval: float, quiet: bool) -> None:
    """Verify and apply every message that is due (safe to run in many processes).

    With --loop, SIGTERM stops it, and so does SIGINT (Ctrl-C) unless it was started with
    SIGINT ignored (nohup, a background job of a script): nothing more is claimed, the
    batch in hand is finished or, past a few seconds, given back for another worker.
    Exits 0 on such a stop, at most 5 s after the signal (1 if it had to be cut short
    at 4.5 s: see gateway/stopping.py).
    """
    from models import db

    from .. import stopping
    from ..pipeline.worker import drain

    stop = stopping.Stop()
    if loop:
        stopping.install(stop, "inbox process")
    while True:
        handled = 0
        try:
            handled = drain(stop=stop)
        except Exception:  # keep the worker alive; leased messages are retried later
            if not loop:
                raise
            current_app.logger.exception("inbox round failed; trying again")
            db.session.rollback()
        if handled or not quiet:
            click.echo(f"processed {handled} message(s)")
        if not loop or stop.wait(interval):  # a signal ends the wait at once
            break
    stopping.leave(stop)


@click.command("rebuild")
@click.option("--apply", is_flag=True, help="Store facts the messages imply and recompute.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Messages per transaction (one subscription's messages are never split).",
)
@click.option(
    "--keep",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Difference lines to print; all are counted.",
)
@click.option(
    "--progress-every",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Seconds between progress lines when stderr is not a terminal.",
)
def rebuild_command(apply: bool, batch_size: int, keep: int, progress_every: float) -> None:
    """Recompute every subscription from the stored raw messages and report differences.

    Works in batches of subscriptions, each its own transaction (rolled back unless
    --apply). Progress goes to stderr: a bar with messages/s and ETA on a terminal, a
    line every --progress-every seconds otherwise.
    """
    import sys
    import time

    from ..reconciliation import rebuild as replay
    from ..reconciliation.rebuild_plan import plan

    err = sys.stderr
    click.echo("rebuild: planning the replay ...", err=True)
    planned = plan()
    rate = replay.Rate(planned.messages)
    click.echo(
        f"rebuild: {planned.messages:,} message(s) about {planned.subscriptions:,} "
        f"subscription(s){'' if apply else ' (dry run: everything is rolled back)'}",
        err=True,
    )

    def run(progress: Callable[[int], None]) -> Report:
        return replay.rebuild(
            now(), apply, batch_size=batch_size, keep=keep, planned=planned, progress=progress
        )

    if err.isatty():
        with click.progressbar(
            length=max(planned.messages, 1),
            label="replay",
            file=err,
            show_pos=True,
            item_show_func=lambda shown: shown,
        ) as bar:

            def advance(n: int) -> None:
                rate.advance(n)
                bar.update(n, f"{rate.per_second:,.0f} messages/s")

            report = run(advance)
    else:
        last = time.monotonic()

        def advance(n: int) -> None:
            nonlocal last
            rate.advance(n)
            if time.monotonic() - last >= progress_every:
                last = time.monotonic()
                click.echo(f"rebuild: {_progress_line(rate)}", err=True)

        report = run(advance)
    click.echo(
        f"rebuild: replayed {rate.done:,} message(s) in {rate.elapsed:,.1f} s "
        f"({rate.per_second:,.0f} messages/s), {report.batches:,} batch(es)",
        err=True,
    )
    for line in report.differences:
        click.echo(line)
    if report.more:
        click.echo(f"... and {report.more:,} more difference(s) not shown (see --keep)")
    click.echo(
        f"{report.checked} subscription(s) checked, {report.found} "
        f"difference(s){' (applied)' if apply and report.found else ''}"
    )
    if report.found and not apply:
        raise SystemExit(1)


def _progress_line(rate: Rate) -> str:
    """'120,000/1,000,000 messages (12%), 2,345 messages/s, 6m15s left'."""
    share = rate.done / rate.total if rate.total else 1.0
    left = rate.left
    eta = f"{int(left // 60)}m{int(left % 60):02d}s left" if left is not None else "ETA unknown"
    return (
        f"{rate.done:,}/{rate.total:,} messages ({share:.0%}), "
        f"{rate.per_second:,.0f} messages/s, {eta}"
    )
