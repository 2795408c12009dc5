"""The `exports` job: delete expired files, sweep leftovers, then write queued exports."""

from __future__ import annotations

import re
from datetime import datetime

from flask import g
from sqlalchemy import select

from models import ExportRequest, db

from ..billing.rules.statuses import ExportStatus
from ..clock import now as clock_now
from .files import claim, export_dir, file_name, give_up_on_dead, run_one

NAME = re.compile(r"^export-(\d+)-(\d+)\.csv(\.part)?$")


def expire(at: datetime) -> int:
    """Ready exports past their time: the file is deleted, the row says `expired`."""
    due = db.session.scalars(
        select(ExportRequest).where(
            ExportRequest.status == ExportStatus.READY, ExportRequest.expires_at <= at
        )
    ).all()
    folder = export_dir()
    for export in due:
        if export.file_name:
            (folder / export.file_name).unlink(missing_ok=True)
        export.status, export.file_name = ExportStatus.EXPIRED, None
    db.session.commit()
    return len(due)


def sweep(at: datetime) -> int:
    """Delete files no export owns: a dead attempt's `.part`, a file whose export expired.
    A file is kept while its export is ready under that name, or running (lease alive)
    in that attempt: its writer may be about to rename it and mark it ready."""
    exports = {
        e.id: e
        for e in db.session.scalars(
            select(ExportRequest).where(
                ExportRequest.status.in_([ExportStatus.READY, ExportStatus.RUNNING])
            )
        )
    }
    db.session.commit()
    deleted = 0
    for path in export_dir().iterdir():
        match = NAME.match(path.name)
        if match is None:
            continue  # not ours
        export = exports.get(int(match[1]))
        attempt = int(match[2])
        keep = export is not None and (
            (export.status == ExportStatus.READY and export.file_name == path.name)
            or (
                export.status == ExportStatus.RUNNING
                and export.attempts == attempt
                and export.lease_until is not None
                and export.lease_until >= at
                and path.name.removesuffix(".part") == file_name(export.id, attempt)
            )
        )
        if not keep:
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


def run(at: datetime, owner: str) -> str:
    """The job: expire, give up on exports out of attempts, then write every queued one as
    `owner` (a stopping scheduler ends the loop; the export in progress goes back to the
    queue)."""
    expired, failed, swept = expire(at), give_up_on_dead(at), sweep(at)
    done: list[str] = []
    stop = g.get("stop")
    while not (stop is not None and stop.is_set()):
        export = claim(owner, clock_now())
        if export is None:
            break
        done.append(run_one(export, owner))
    parts = [f"{expired} expired", f"{failed} given up", f"{swept} stray file(s) deleted"]
    return "; ".join(done + parts)
