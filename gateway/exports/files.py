"""Large exports written to a file by the `exports` job, never seen half-written.

The writer holds the export's lease (renewed every PROGRESS_ROWS rows, with the progress)
and writes `<name>.part`; once every row is written it flushes and fsyncs the file,
renames it to its final name, and only then, still holding the lease, marks the export
`ready` with its row count, size and SHA-256. A runner killed midway leaves a `running`
export whose lease runs out and a `.part` file: the next run deletes the file and writes
the export again, up to EXPORT_ATTEMPTS times, then marks it `failed`. A writer that lost
its lease (it stalled past it and another took over) deletes its own file and stops.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app, g
from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from models import ExportRequest, User, db

from .. import mail
from ..billing.rules.statuses import ExportStatus
from ..clock import now
from .tables import Filters, Row, csv_chunks, tables

#: Rows between two progress reports (each renews the lease).
PROGRESS_ROWS = 1_000


class LeaseLost(Exception):
    """Another runner took the export over: this writer's file must not become it."""


class Stopping(Exception):
    """The scheduler is stopping: the export goes back to the queue."""


def export_dir() -> Path:
    configured = current_app.config.get("EXPORT_DIR") or ""
    folder = Path(configured) if configured else Path(current_app.instance_path) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def file_name(export_id: int, attempt: int) -> str:
    """One name per attempt, so a late writer never overwrites a newer attempt's file."""
    return f"export-{export_id}-{attempt}.csv"


def request_export(kind: str, filters: Filters, admin_id: int, at: datetime) -> ExportRequest:
    """Queue an export (or return the same admin's identical one still queued or running)."""
    waiting = db.session.scalars(
        select(ExportRequest).where(
            ExportRequest.kind == kind,
            ExportRequest.requested_by == admin_id,
            ExportRequest.status.in_([ExportStatus.QUEUED, ExportStatus.RUNNING]),
        )
    ).all()
    for export in waiting:
        if export.filters == filters:
            return export
    export = ExportRequest(
        kind=kind, filters=filters, requested_by=admin_id, requested_at=at, attempts=0
    )
    export.status, export.rows_written = ExportStatus.QUEUED, 0
    db.session.add(export)
    db.session.commit()
    return export


def lease_lapsed(export: ExportRequest, at: datetime) -> bool:
    """A running export whose writer has not reported within its lease (it died)."""
    return export.status == ExportStatus.RUNNING and (
        export.lease_until is None or export.lease_until < at
    )


def _takeable(at: datetime) -> ColumnElement[bool]:
    """Queued, or running under a lease that ran out with attempts left."""
    lapsed = and_(
        ExportRequest.status == ExportStatus.RUNNING,
        ExportRequest.lease_until < at,
        ExportRequest.attempts < int(current_app.config["EXPORT_ATTEMPTS"]),
    )
    return or_(ExportRequest.status == ExportStatus.QUEUED, lapsed)


def give_up_on_dead(at: datetime) -> int:
    """Exports whose writer died on their last allowed attempt: failed, never ready."""
    attempts = int(current_app.config["EXPORT_ATTEMPTS"])
    result = db.session.execute(
        update(ExportRequest)
        .where(
            ExportRequest.status == ExportStatus.RUNNING,
            ExportRequest.lease_until < at,
            ExportRequest.attempts >= attempts,
        )
        .values(
            status=ExportStatus.FAILED,
            lease_owner=None,
            finished_at=at,
            error=f"the runner writing it stopped {attempts} times before it was complete",
        )
    )
    db.session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def claim(owner: str, at: datetime) -> ExportRequest | None:
    """Take the oldest queued export (or one whose writer died) under a fresh lease."""
    lease = timedelta(seconds=float(current_app.config["EXPORT_LEASE_SECONDS"]))
    while True:
        export_id = db.session.scalar(
            select(ExportRequest.id)
            .where(_takeable(at))
            .order_by(ExportRequest.requested_at, ExportRequest.id)
            .limit(1)
        )
        if export_id is None:
            db.session.commit()
            return None
        taken = db.session.execute(
            update(ExportRequest)
            .where(ExportRequest.id == export_id, _takeable(at))
            .values(
                status=ExportStatus.RUNNING,
                lease_owner=owner,
                lease_until=at + lease,
                attempts=ExportRequest.attempts + 1,
                started_at=at,
                rows_written=0,
                rows_expected=None,
                error=None,
            )
        )
        db.session.commit()
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return db.session.get(ExportRequest, export_id)
        # another runner took it between the two statements: look again


@dataclass
class Written:
    rows: int
    size: int
    sha256: str


class Writer:
    """Writes one claimed export to its `.part` file, reporting progress under its lease."""

    def __init__(self, export: ExportRequest, owner: str) -> None:
        self.export_id, self.owner = export.id, owner
        self.table = tables()[export.kind]
        self.filters: Filters = dict(export.filters)
        self.final = export_dir() / file_name(export.id, export.attempts)
        self.part = self.final.with_name(self.final.name + ".part")
        self.lease = timedelta(seconds=float(current_app.config["EXPORT_LEASE_SECONDS"]))
        self.rows_done = 0

    def _report(self, **values: object) -> None:
        """Store progress and renew the lease; LeaseLost if it is no longer ours."""
        result = db.session.execute(
            update(ExportRequest)
            .where(
                ExportRequest.id == self.export_id,
                ExportRequest.lease_owner == self.owner,
                ExportRequest.status == ExportStatus.RUNNING,
            )
            .values(lease_until=now() + self.lease, **values)
        )
        db.session.commit()
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost()

    def write(self, at: datetime) -> Written:
        """Every row into the `.part` file, read on a connection of its own (the progress
        commits on the session's would end a server-side cursor), in one transaction:
        on PostgreSQL a repeatable-read snapshot, so the count and the rows agree."""
        lapsing = int(current_app.config["LAPSING_DAYS"])
        stop = g.get("stop")
        engine = db.engine
        snapshot = (
            {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
        )
        with engine.connect().execution_options(**snapshot) as conn, Session(bind=conn) as reader:
            self._report(rows_expected=self.table.count(reader, self.filters, at, lapsing))
            digest, size, next_report = hashlib.sha256(), 0, PROGRESS_ROWS
            rows = self.table.rows(reader, self.filters, at, lapsing)
            chunks = csv_chunks(self.table.columns, self._counted(rows))
            del rows  # closing `chunks` then closes the reader's cursor, before its connection
            with closing(chunks), open(self.part, "wb") as out:
                for chunk in chunks:
                    data = chunk.encode()
                    out.write(data)
                    digest.update(data)
                    size += len(data)
                    if stop is not None and stop.is_set():
                        raise Stopping()
                    if self.rows_done >= next_report:
                        next_report = self.rows_done + PROGRESS_ROWS
                        self._report(rows_written=self.rows_done)
                out.flush()
                os.fsync(out.fileno())  # on disk before the name says it is complete
            conn.rollback()
        return Written(self.rows_done, size, digest.hexdigest())

    def _counted(self, rows: Iterator[Row]) -> Iterator[Row]:
        for row in rows:
            self.rows_done += 1
            yield row

    def finish(self, written: Written, at: datetime) -> None:
        """Rename to the final name, then mark ready (still ours), else delete the file."""
        os.replace(self.part, self.final)
        keep = timedelta(hours=float(current_app.config["EXPORT_KEEP_HOURS"]))
        stamp = f"{at:%Y%m%d-%H%M}"
        try:
            self._report(
                status=ExportStatus.READY,
                rows_written=written.rows,
                file_name=self.final.name,
                file_bytes=written.size,
                sha256=written.sha256,
                finished_at=now(),
                expires_at=now() + keep,
                lease_owner=None,
                download_name=f"{self.table.stem(self.filters)}-{stamp}-{written.rows}-rows.csv",
            )
        except LeaseLost:
            self.final.unlink(missing_ok=True)
            raise
        _tell_requester(self.export_id)

    def discard(self) -> None:
        self.part.unlink(missing_ok=True)


def _tell_requester(export_id: int) -> None:
    """Mail the admin who asked that the file is ready (once: the key names the export).
    A mail that cannot be queued is logged; the export stays ready."""
    try:
        export = db.session.get(ExportRequest, export_id)
        user = db.session.get(User, export.requested_by) if export and export.requested_by else None
        if export is None or user is None:
            return
        mail.queue(
            f"export-ready:{export.id}",
            user.email,
            "export_ready",
            now(),
            export_id=export.id,
            title=tables()[export.kind].title,
            rows=f"{export.rows_written:,}",
            sha256=export.sha256,
            expires=export.expires_at,
            link=mail.link("admin.exports.index"),
        )
        db.session.commit()
    except Exception:  # the file is ready and listed; only the mail is missing
        db.session.rollback()
        current_app.logger.exception("could not queue the mail for export %s", export_id)


def run_one(export: ExportRequest, owner: str) -> str:
    """Write a claimed export; what happened, in a few words."""
    writer = Writer(export, owner)
    for stale in export_dir().glob(f"export-{export.id}-*.part"):
        if stale != writer.part:  # an earlier attempt's, whose runner died
            stale.unlink(missing_ok=True)
    at = now()
    try:
        writer.finish(writer.write(at), at)
    except LeaseLost:
        writer.discard()
        return f"export {export.id}: taken over by another runner"
    except Stopping:
        writer.discard()
        db.session.execute(
            update(ExportRequest)
            .where(ExportRequest.id == export.id, ExportRequest.lease_owner == owner)
            .values(
                status=ExportStatus.QUEUED,
                lease_owner=None,
                lease_until=None,
                attempts=ExportRequest.attempts - 1,
                rows_written=0,
            )
        )
        db.session.commit()
        return f"export {export.id}: back in the queue (stopping)"
    except Exception as e:  # recorded on the export; the admin sees it failed
        db.session.rollback()
        writer.discard()
        current_app.logger.exception("export %s failed", export.id)
        db.session.execute(
            update(ExportRequest)
            .where(ExportRequest.id == export.id, ExportRequest.lease_owner == owner)
            .values(
                status=ExportStatus.FAILED,
                lease_owner=None,
                finished_at=now(),
                error=f"{type(e).__name__}: {str(e)[:300]}",
            )
        )
        db.session.commit()
        return f"export {export.id}: failed ({type(e).__name__})"
    return f"export {export.id}: {writer.rows_done} row(s)"
