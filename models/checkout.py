"""The journal of open checkouts: our token travels to PayPal as `custom` / `custom_id`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.billing.rules.statuses import CheckoutFlow, CheckoutStatus

from .base import Model
from .types import StatusColumn, UTCDateTime

if TYPE_CHECKING:
    from .plan import Plan


class Checkout(Model):
    __tablename__ = "checkouts"
    __table_args__ = (
        # One open checkout per member and plan, enforced by the database.
        Index(
            "uq_checkouts_open_user_plan",
            "user_id",
            "plan_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_checkouts_status_expires", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(40), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    status: Mapped[CheckoutStatus] = mapped_column(
        StatusColumn(CheckoutStatus, "status_known", 12), default=CheckoutStatus.OPEN
    )
    channel: Mapped[CheckoutFlow] = mapped_column(
        StatusColumn(CheckoutFlow, "channel_known", 12), default=CheckoutFlow.STANDARD
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    #: What this checkout offered (`AgreedTerms.to_json()`), frozen when it was opened.
    offered_terms: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: The REST subscription (I-...) this checkout's member returned with and we checked with
    #: PayPal; for a pass, the purchase that claimed it (the Orders order id, the Buy Now
    #: txn_id: docs/passes.md). Unique: an id one member has claimed can never be claimed
    #: by another.
    paypal_subscription_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: Why PayPal's answer to this checkout gave no access, in words for the member.
    problem: Mapped[str | None] = mapped_column(Text)

    plan: Mapped[Plan] = relationship(lazy="joined")
