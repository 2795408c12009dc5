"""Seats of a plan with a seat limit: one row per seat taken, held or confirmed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model
from .types import UTCDateTime


class SeatHold(Model):
    """Seat `seat_no` of a plan. The unique (plan, seat number) pair is what makes two
    members racing for the last seat end with one winner, on any database.

    A checkout's hold has `held_until`; a payment confirms it (`held_until` None, the
    subscription set). A seat number above the plan's limit is an overflow: a payment
    that came after its hold had lapsed and the plan had sold out (flagged).
    """

    __tablename__ = "seat_holds"
    __table_args__ = (
        UniqueConstraint("plan_id", "seat_no"),
        CheckConstraint("seat_no > 0", name="seat_no_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    seat_no: Mapped[int] = mapped_column(Integer)
    checkout_id: Mapped[int | None] = mapped_column(ForeignKey("checkouts.id"), unique=True)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"), unique=True)
    #: When an unconfirmed hold lapses; None once a payment confirmed the seat.
    held_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
