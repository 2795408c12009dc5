"""Payments PayPal reports, with the period each one bought."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.billing.rules.statuses import PaymentStatus

from .base import Model
from .types import Money, StatusColumn, UTCDateTime


class Payment(Model):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("fee IS NULL OR fee >= 0", name="fee_not_negative"),
        # The admin list, newest first: (paid_at, id) read backwards, also per status.
        Index("ix_payments_paid_at", "paid_at", "id"),
        Index("ix_payments_status_paid_at", "status", "paid_at", "id"),
        # txn id prefix search (LIKE 'ABC%'): the unique key's collation cannot serve it.
        Index(
            "ix_payments_txn_id_pattern", "txn_id", postgresql_ops={"txn_id": "varchar_pattern_ops"}
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    txn_id: Mapped[str] = mapped_column(String(64), unique=True)
    #: PayPal's latest payment_status for this txn, derived from the facts.
    status: Mapped[PaymentStatus] = mapped_column(StatusColumn(PaymentStatus, "status_known", 30))
    amount: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    fee: Mapped[Decimal | None] = mapped_column(Money())
    #: The tax PayPal reported inside `amount` (IPN `tax`, REST `tax_amount`); None: not said.
    tax: Mapped[Decimal | None] = mapped_column(Money())
    #: The payer's name as PayPal reported it with the payment (business name, else given
    #: name and surname), for the receipt; None when it said none.
    payer_name: Mapped[str | None] = mapped_column(String(200))
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime())
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
