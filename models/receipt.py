"""Receipts: one number per payment, given once, from a gapless counter per series."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model
from .types import UTCDateTime


class Receipt(Model):
    """The number a payment's receipt carries (e.g. TG-2026-000123), never changed."""

    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("series", "seq"),
        CheckConstraint("seq > 0", name="seq_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), unique=True)
    #: The prefix and the year of issue (TG-2026); each series counts from 1.
    series: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer)
    #: What the receipt shows: kept whole, so a later prefix change renumbers nothing.
    number: Mapped[str] = mapped_column(String(60), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReceiptCounter(Model):
    """The last number given in a series. Issuing locks this row until commit, so numbers
    are given in commit order without gaps (a rolled-back issue rolls its number back)."""

    __tablename__ = "receipt_counters"

    series: Mapped[str] = mapped_column(String(40), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)
