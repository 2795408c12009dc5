"""The journal of refunds we ask PayPal for: written before the request is sent, finished
from PayPal's answer, so nothing is ever refunded twice (docs/architecture.md, "Refunds")."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.billing.rules.statuses import OperationStatus

from .base import Model
from .types import Money, StatusColumn, UTCDateTime

if TYPE_CHECKING:
    from .payment import Payment
    from .user import User


class RefundOperation(Model):
    __tablename__ = "refund_operations"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        # One refund of a payment in flight at a time, whoever asks: a second admin (or a
        # second click) waits for the first to be finished.
        Index(
            "uq_refund_operations_open_payment",
            "payment_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_refund_operations_status", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The form's one-time key: the same submission twice is the same operation.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[OperationStatus] = mapped_column(
        StatusColumn(OperationStatus, "status_known", 10), default=OperationStatus.OPEN
    )
    #: Sent as PayPal-Request-Id on every try: PayPal does a repeated request once.
    paypal_request_id: Mapped[str] = mapped_column(String(64), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: PayPal's refund transaction id, once PayPal answered.
    paypal_refund_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: PayPal's last error, for the admin.
    error: Mapped[str | None] = mapped_column(Text)

    payment: Mapped[Payment] = relationship(lazy="joined")
    requester: Mapped[User | None] = relationship(lazy="joined")
