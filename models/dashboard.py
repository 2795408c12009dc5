"""The admin dashboard's numbers, computed by a scheduled job and kept for the page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model
from .types import UTCDateTime


class DashboardSnapshot(Model):
    """Every chart's numbers as counted at `computed_at`, over the widest window the page
    offers (`weeks`, `months`); the page shows a slice of the latest one, with its age.

    `data` is `gateway.dashboard.snapshots.Snapshot.to_json()`; the settings the numbers
    depend on (grace and lapsing days) are kept beside it, so a changed setting is never
    answered with numbers counted under the old one.
    """

    __tablename__ = "dashboard_snapshots"
    __table_args__ = (Index("ix_dashboard_snapshots_computed_at", "computed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    weeks: Mapped[int] = mapped_column(Integer)
    months: Mapped[int] = mapped_column(Integer)
    grace_days: Mapped[int] = mapped_column(Integer)
    lapsing_days: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    duration_ms: Mapped[int] = mapped_column(Integer)
