"""POSTs to PayPal's endpoints that were refused (over a rate limit, too large), counted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model
from .types import UTCDateTime


class IntakeRefusal(Model):
    """One process's count of refusals for one sender since its previous row (written at
    most once a minute a process: gateway/flood/refusals.py)."""

    __tablename__ = "intake_refusals"
    __table_args__ = (Index("ix_intake_refusals_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The sender as the limit counts it (an address or a network); "(others)" sums the
    #: senders beyond a row's ten largest.
    source: Mapped[str] = mapped_column(String(64))
    #: "source" (its own limit), "everyone" (all senders' limit), "too_large" (413).
    reason: Mapped[str] = mapped_column(String(16))
    refused: Mapped[int] = mapped_column(Integer)
