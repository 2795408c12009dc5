"""`flask --app app paypal reconcile [--days N]`, `paypal import-activity FILE` and
`paypal fetch-webhook-certs [URL ...]` (cli/webhook_certs.py)."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import click
from flask import current_app

from ..billing.formats.activity_locale import DateOrder
from ..clock import now
from ..jobs import lease, runner
from ..jobs.registry import job_named
from ..reconciliation.importing import import_activity, log_run, members
from ..reconciliation.run import reconcile
from .webhook_certs import fetch_webhook_certs_command


@click.group("paypal")
def paypal_group() -> None:
    """PayPal: reconcile our records with PayPal's reports; pin webhook certificates."""


paypal_group.add_command(fetch_webhook_certs_command)


@paypal_group.command("reconcile")
@click.option(
    "--days",
    type=click.IntRange(1, 3 * 365),
    help="How far back from the last fully reported moment (default RECONCILE_DAYS).",
)
def reconcile_command(days: int | None) -> None:
    """Compare payments and REST subscriptions with PayPal now; flag every difference."""
    job = job_named(dict(current_app.config), "reconcile")
    lease.ensure((job,), now())
    # The job's own lease: never at the same time as a scheduled run.
    run = runner.tick(
        replace(job, func=lambda at: reconcile(at, days)), lease.owner_id(), force=True
    )
    if run is None:
        raise click.ClickException("reconcile is running elsewhere right now; try again later")
    click.echo(f"reconcile: {run.outcome.value}: {run.summary}")
    if run.outcome.value != "ok":
        raise SystemExit(1)


@paypal_group.command("import-activity")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--date-format",
    type=click.Choice([o.value for o in DateOrder], case_sensitive=False),
    help="How the file writes dates: MDY (US), DMY (UK, Europe) or YMD. Without it the "
    "header's language, the time zone or an unambiguous date decides; an ambiguous date "
    "is reported, never guessed.",
)
@click.option(
    "--decimal-comma/--decimal-point",
    default=None,
    help="The file's decimal mark (default: learnt from its amounts).",
)
def import_activity_command(
    file: Path, date_format: str | None, decimal_comma: bool | None
) -> None:
    """Import PayPal's Activity Download (CSV or a ZIP of CSVs) and compare it with ours."""
    started, clock = now(), time.monotonic()
    with file.open("rb") as stream:
        found = members(stream, file.name)
        with click.progressbar(
            length=sum(m.size for m in found) or 1,
            label=f"Importing {file.name}",
            file=sys.stderr,
        ) as bar:
            report = import_activity(
                found,
                file.name,
                started,
                date_order=DateOrder(date_format.upper()) if date_format else None,
                decimal_mark=None if decimal_comma is None else "," if decimal_comma else ".",
                progress=bar.update,
            )
    log_run(report, "cli", started, now(), time.monotonic() - clock)
    for note in report.notes:
        click.echo(f"note: {note}")
    for problem in report.problems:
        click.echo(f"line {problem.line}: {problem.message}", err=True)
    if report.problem_count > len(report.problems):
        click.echo(f"… and {report.problem_count - len(report.problems)} more", err=True)
    click.echo(report.summary())
    if report.problem_count:
        raise SystemExit(1)
