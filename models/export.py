"""An admin's export too large to stream in a request: written to a file by a job."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.billing.rules.statuses import ExportStatus

from .base import Model
from .types import StatusColumn, UTCDateTime


class ExportRequest(Model):
    """One export: what was asked (table and filters), how far the job got, and the file.

    The job writes `<file_name>.part` and renames it to `file_name` only once every row is
    written, flushed and counted; the row turns `ready` only after that rename, and only
    while the writer still holds the lease (`lease_owner` until `lease_until`, renewed
    as rows are written). A runner that dies leaves a `running` row whose lease runs out:
    the next run takes it again (up to EXPORT_ATTEMPTS) or marks it failed.
    """

    __tablename__ = "export_requests"
    __table_args__ = (
        Index("ix_export_requests_status", "status", "requested_at"),
        Index("ix_export_requests_requested_at", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    #: The page's query-string arguments, as the direct CSV would have read them.
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[ExportStatus] = mapped_column(
        StatusColumn(ExportStatus, "export_status_known", 10), default=ExportStatus.QUEUED
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rows_written: Mapped[int] = mapped_column(default=0)
    #: Rows the export's query counted when the run began (progress is shown against it).
    rows_expected: Mapped[int | None] = mapped_column(Integer)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The finished file's name in the exports folder, its size and SHA-256.
    file_name: Mapped[str | None] = mapped_column(String(120))
    file_bytes: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    #: The name the admin's browser saves it under.
    download_name: Mapped[str | None] = mapped_column(String(160))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
