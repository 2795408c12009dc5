"""Admin CSV exports: small ones stream in the request, large ones become a file.

`/admin/<table>.csv` counts the rows its filters select, up to EXPORT_STREAM_MAX_ROWS + 1.
Within the limit the CSV streams at once (chunked: a download cut off midway ends without
HTTP's last chunk, which HTTP clients report as an error, never a clean end). Above it
the admin is sent to /admin/exports, where one click queues the export for the `exports`
job (gateway/exports/); the page shows its progress and, once ready, its row count, size,
SHA-256 and a download link, until the file expires.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from werkzeug.utils import send_file

from models import ExportRequest, db

from ..billing.rules.statuses import ExportStatus
from ..clock import now
from ..exports.files import export_dir, lease_lapsed, request_export
from ..exports.tables import Filters, Table, csv_chunks, csv_safe, register
from ..paging import BadFilter
from .export_tables import TABLES

__all__ = ["bp", "csv_response", "csv_safe"]

bp = Blueprint("exports", __name__)
bp.record_once(lambda state: register(state.app, TABLES))  # for the job, which has no request
#: Exports listed on the page, newest first.
LISTED = 30


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Response:
    """Stream `rows` (consumed lazily, inside the request) as a CSV download."""
    return Response(
        stream_with_context(csv_chunks(header, rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _table_and_filters(kind: str) -> tuple[Table, Filters]:
    table = TABLES.get(kind)
    if table is None:
        abort(400, description=f"Unknown export {kind!r}; use one of {', '.join(TABLES)}.")
    try:
        return table, table.parse(request.args)
    except BadFilter as e:
        abort(400, description=str(e))


def _direct_or_job(kind: str):
    """The CSV now if it is small enough to stream, else the exports page to queue it."""
    table, filters = _table_and_filters(kind)
    at, lapsing = now(), int(current_app.config["LAPSING_DAYS"])
    limit = int(current_app.config["EXPORT_STREAM_MAX_ROWS"])
    if table.count_upto(db.session, filters, at, lapsing, limit + 1) > limit:
        args: dict[str, Any] = {"kind": kind, **filters}
        return redirect(url_for(".index", **args), 303)
    name = f"{table.stem(filters)}-{at:%Y%m%d-%H%M}.csv"
    return csv_response(name, table.columns, table.rows(db.session, filters, at, lapsing))


@bp.route("/subscriptions.csv")
def subscriptions_csv():
    """The subscriptions table's current view and filters, every page of it."""
    return _direct_or_job("subscriptions")


@bp.route("/members.csv")
def members_csv():
    """Every member (or those the members page's search finds), with their access now."""
    return _direct_or_job("members")


@bp.route("/payments.csv")
def payments_csv():
    """Every payment (or those the payments page's filters select), newest first."""
    return _direct_or_job("payments")


@bp.route("/exports")
def index():
    """The exports: progress of those being written, downloads of those ready; with
    `kind` (and its filters), a button to queue that export first."""
    offer = _table_and_filters(request.args["kind"]) if "kind" in request.args else None
    exports = db.session.scalars(
        select(ExportRequest)
        .order_by(ExportRequest.requested_at.desc(), ExportRequest.id.desc())
        .limit(LISTED)
    ).all()
    at = now()
    busy = any(e.status in (ExportStatus.QUEUED, ExportStatus.RUNNING) for e in exports)
    page = render_template(
        "admin/exports.html",
        offer=offer,
        exports=exports,
        tables=TABLES,
        interrupted=lambda e: lease_lapsed(e, at),
        attempts=int(current_app.config["EXPORT_ATTEMPTS"]),
        limit=int(current_app.config["EXPORT_STREAM_MAX_ROWS"]),
    )
    # While one is being written the page reloads itself (no script needed).
    return page, 200, ({"Refresh": "5"} if busy else {})


@bp.route("/exports", methods=["POST"])
def create():
    """Queue the export named in the query string (the offer's form posts here)."""
    table, filters = _table_and_filters(request.args.get("kind", ""))
    export = request_export(table.kind, filters, current_user.id, now())
    flash(f"Export #{export.id} is queued; this page shows its progress.", "success")
    return redirect(url_for(".index"), 303)


@bp.route("/exports/<int:export_id>/download")
def download(export_id: int):
    """A ready export's file; never one still being written, failed or expired."""
    export = db.get_or_404(ExportRequest, export_id, description="No such export.")
    if export.status != ExportStatus.READY or not export.file_name:
        abort(409, description=f"Export #{export.id} is {export.status.value}, not ready.")
    path = export_dir() / export.file_name
    if not path.is_file() or path.stat().st_size != export.file_bytes:
        abort(410, description=f"The file of export #{export.id} is gone; export it again.")
    return send_file(
        str(path),
        request.environ,
        mimetype="text/csv",
        as_attachment=True,
        download_name=export.download_name or export.file_name,
    )
