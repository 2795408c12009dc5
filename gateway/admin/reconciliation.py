"""Admin: reconciliation with PayPal — the last runs and imports, the open differences,
"Reconcile now", and the Activity CSV upload (size-limited, CSRF-protected like every
form)."""

from __future__ import annotations

import time
import zipfile
from dataclasses import replace

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import Select, select
from wtforms import IntegerField, SelectChoice, SelectField
from wtforms.validators import NumberRange, Optional

from models import Flag, JobRun, db

from ..billing.formats.activity_locale import DateOrder
from ..clock import now
from ..jobs import lease, runner
from ..jobs.registry import job_named
from ..paging import BadFilter, Paging, requested
from ..reconciliation.importing import (
    RUN_NAME,
    ImportReport,
    TooLarge,
    import_activity,
    log_run,
    members,
)
from ..reconciliation.run import reconcile
from ..reconciliation.session import FLAG_KIND
from ..records.audit import audit
from . import flags

bp = Blueprint("reconciliation", __name__, url_prefix="/reconciliation")
#: Runs listed on the page.
RUNS = 20


class RunForm(FlaskForm):
    days = IntegerField(
        "Days back (empty: the job's setting)", validators=[Optional(), NumberRange(1, 3 * 365)]
    )


class ImportForm(FlaskForm):
    file = FileField("Activity Download (CSV, or a ZIP of CSVs)", validators=[FileRequired()])
    date_format = SelectField(
        "Dates",
        choices=[
            SelectChoice("", "decide from the file (never guessed)"),
            SelectChoice(DateOrder.MDY.value, "MM/DD/YYYY (US)"),
            SelectChoice(DateOrder.DMY.value, "DD/MM/YYYY (UK, Europe)"),
            SelectChoice(DateOrder.YMD.value, "YYYY-MM-DD"),
        ],
        default="",
    )
    decimal = SelectField(
        "Decimal mark",
        choices=[
            SelectChoice("", "decide from the file"),
            SelectChoice(".", "point: 1,234.56"),
            SelectChoice(",", "comma: 1.234,56"),
        ],
        default="",
    )


def _limit() -> int:
    return int(current_app.config["RECONCILE_UPLOAD_MAX_MB"]) * 2**20


def open_differences() -> Select[Flag]:
    return select(Flag).where(Flag.kind == FLAG_KIND, Flag.resolved_at.is_(None))


@bp.route("")
def index() -> ResponseReturnValue:
    return _page(RunForm(), ImportForm(), None)


def _page(
    run_form: RunForm, import_form: ImportForm, report: ImportReport | None, status: int = 200
):
    try:
        paging = Paging.from_args(request.args)
    except BadFilter as e:
        abort(400, description=str(e))
    runs = db.session.scalars(
        select(JobRun)
        .where(JobRun.job.in_(("reconcile", RUN_NAME)))
        .order_by(JobRun.started_at.desc(), JobRun.id.desc())
        .limit(RUNS)
    ).all()
    # Newest first, as the flags queue lists them; the count exact up to
    # ADMIN_EXACT_COUNT_UP_TO, "more than" it beyond, never a COUNT(*) of them all.
    page = requested(open_differences(), "created", flags.CREATED, Flag.id, True, paging)
    return render_template(
        "admin/reconciliation.html",
        runs=runs,
        page=page,
        run_form=run_form,
        import_form=import_form,
        report=report,
        max_mb=int(current_app.config["RECONCILE_UPLOAD_MAX_MB"]),
    ), status


@bp.route("/run", methods=["POST"])
def run_now() -> ResponseReturnValue:
    """Reconcile now, under the job's own lease (never beside a scheduled run). An admin's
    request waits for PayPal's answers here, as a member's checkout return does; the
    daily job does the same work without anyone waiting."""
    form = RunForm()
    if not form.validate_on_submit():
        return _page(form, ImportForm(), None, 400)
    days = form.days.data
    job = job_named(dict(current_app.config), "reconcile")
    lease.ensure((job,), now())
    run = runner.tick(
        replace(job, func=lambda at: reconcile(at, days)), lease.owner_id(), force=True
    )
    if run is None:
        flash("Reconciliation is running elsewhere right now; try again in a while.", "error")
    else:
        audit(current_user, "reconcile", "job_run", run.id, now=now(), details={"days": days})
        db.session.commit()
        flash(
            f"Reconciliation {run.outcome.value}: {(run.summary or '')[:300]}",
            "success" if run.outcome.value == "ok" else "error",
        )
    return redirect(url_for(".index")), 303


@bp.route("/import", methods=["POST"])
def upload() -> ResponseReturnValue:
    # The body's limit was raised (or the body refused) before any hook read it:
    # errors.raise_body_limit.
    limit = _limit()
    form = ImportForm()
    if not form.validate_on_submit():
        return _page(RunForm(), form, None, 400)
    upload = form.file.data
    name = (upload.filename or "upload.csv").replace("/", "_")[-120:]
    started, clock = now(), time.monotonic()
    try:
        report = import_activity(
            members(upload.stream, name),
            name,
            started,
            date_order=DateOrder(form.date_format.data) if form.date_format.data else None,
            decimal_mark=form.decimal.data or None,
            max_bytes=4 * limit,
        )
    except TooLarge as e:
        db.session.rollback()
        abort(413, description=f"{e}; use `flask --app app paypal import-activity FILE`.")
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as e:
        db.session.rollback()
        abort(400, description=f"Not a readable ZIP file: {e}")
    run = log_run(report, f"admin {current_user.email}", started, now(), time.monotonic() - clock)
    audit(
        current_user,
        "import_activity",
        "job_run",
        run.id,
        now=now(),
        details={
            "file": name,
            "bytes": report.bytes_read,
            "rows": report.tally.rows,
            "new_flags": report.tally.new_flags,
            "backfilled": report.tally.backfilled,
        },
    )
    db.session.commit()
    return _page(RunForm(), ImportForm(formdata=None), report)
