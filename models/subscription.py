"""Subscriptions and the facts their state is derived from."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.billing.rules.statuses import SubscriptionState, TermsSource

from .base import Model

if TYPE_CHECKING:
    from .plan import Plan
    from .user import User
from .types import Money, StatusColumn, UTCDateTime

#: What the admin views and filters test (and the sorts' values), carried by each sort's
#: index on PostgreSQL (migration f7a3c9e1d4b2 builds the same lists).
COVER = ("access_until", "state", "plan_id", "user_id", "paid_through", "started_at")


#: The grace view's partial index carries every sort's column (PostgreSQL).
GRACE_COVER = ["state", "plan_id", "user_id", "started_at"]


def covering(key: str) -> list[str]:
    return [c for c in COVER if c != key]


class Subscription(Model):
    """One member's subscription to one plan.

    The date columns are a cache of `gateway.billing.compute()` over this row's facts,
    rewritten by `gateway.subscriptions.service.recompute`; never set them by hand.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (
        Index("ix_subscriptions_user_access", "user_id", "access_until"),
        Index("ix_subscriptions_plan_access", "plan_id", "access_until"),
        # The admin table's sorts: (column, id) read forwards (asc, NULLs last) or backwards
        # (desc, NULLs first), so no sort has a Sort step (gateway/paging.py). On PostgreSQL
        # each also carries what the views and filters test (INCLUDE), so a page's ids are
        # found in the index alone, without visiting the rows a view leaves out.
        Index(
            "ix_subscriptions_access_until",
            "access_until",
            "id",
            postgresql_include=covering("access_until"),
        ),
        Index(
            "ix_subscriptions_started_at_id",
            "started_at",
            "id",
            postgresql_include=covering("started_at"),
        ),
        Index(
            "ix_subscriptions_paid_through_id",
            "paid_through",
            "id",
            postgresql_include=covering("paid_through"),
        ),
        Index("ix_subscriptions_state_id", "state", "id", postgresql_include=covering("state")),
        Index(
            "ix_subscriptions_user_id_id", "user_id", "id", postgresql_include=covering("user_id")
        ),
        Index(
            "ix_subscriptions_plan_id_id", "plan_id", "id", postgresql_include=covering("plan_id")
        ),
        # A state filter sorted by a date (state=pending by start, the last page of
        # state=cancelled): the state's rows in the sort's order, however rare the state.
        Index("ix_subscriptions_state_access_until", "state", "access_until", "id"),
        Index("ix_subscriptions_state_paid_through", "state", "paid_through", "id"),
        Index("ix_subscriptions_state_started_at", "state", "started_at", "id"),
        # The admin "grace" view (gateway/subscriptions/listing.py in_grace): only rows with a grace
        # date, both of the view's ranges tested inside the index, the ids read from it.
        Index(
            "ix_subscriptions_grace",
            "access_until",
            "paid_through",
            "id",
            postgresql_where=text("grace_until IS NOT NULL"),
            sqlite_where=text("grace_until IS NOT NULL"),
            postgresql_include=GRACE_COVER,
        ),
        # The NULL piece of the "started" sort (no start date yet), by state, in id order.
        Index(
            "ix_subscriptions_unstarted",
            "state",
            "id",
            postgresql_where=text("started_at IS NULL"),
            sqlite_where=text("started_at IS NULL"),
        ),
        # "Why members cancel" on the dashboard (cancel_reasons.counts): a range of the
        # cancellations in the period that gave a reason, counted from the index alone.
        Index(
            "ix_subscriptions_cancel_reason",
            "cancelled_at",
            "cancel_reason",
            postgresql_where=text("cancel_reason IS NOT NULL"),
            sqlite_where=text("cancel_reason IS NOT NULL"),
        ),
        # PayPal id prefix search (LIKE 'I-AB%'): the unique key's collation cannot serve it.
        Index(
            "ix_subscriptions_paypal_id_pattern",
            "paypal_id",
            postgresql_ops={"paypal_id": "varchar_pattern_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: None while no identifier in PayPal's messages names one of our plans (flagged; an
    #: admin assigns it, and access is then computed from every stored fact).
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    paypal_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: The buyer's PayPal e-mail from the first message: a hint for an admin, never trusted.
    payer_email: Mapped[str | None] = mapped_column(String(254))
    state: Mapped[SubscriptionState] = mapped_column(
        StatusColumn(SubscriptionState, "state_known", 20), default=SubscriptionState.PENDING
    )
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    trial_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_through: Mapped[datetime | None] = mapped_column(UTCDateTime())
    grace_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    access_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Why the member cancelled, if they said (gateway/subscriptions/cancel_reasons.py):
    #: their answer, not PayPal's, so it is kept apart from the derived dates above.
    cancel_reason: Mapped[str | None] = mapped_column(String(20))
    cancel_note: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User | None] = relationship(lazy="joined")
    plan: Mapped[Plan | None] = relationship(lazy="joined")

    @property
    def renews(self) -> bool:
        return (
            self.state is SubscriptionState.ACTIVE
            and self.paypal_id is not None
            and not self.is_pass
        )

    @property
    def is_pass(self) -> bool:
        """Bought once: it ends on its paid-through date, or never (docs/passes.md)."""
        return self.plan is not None and self.plan.is_pass

    def __repr__(self) -> str:
        return f"<Subscription {self.id} {self.state}>"


class SubscriptionFact(Model):
    """A fact about a subscription; the unique key makes re-delivery a no-op."""

    __tablename__ = "subscription_facts"
    __table_args__ = (
        UniqueConstraint("subscription_id", "kind", "key"),
        Index("ix_subscription_facts_sub_at", "subscription_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    kind: Mapped[str] = mapped_column(String(30))
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    txn_id: Mapped[str | None] = mapped_column(String(64))
    amount: Mapped[Decimal | None] = mapped_column(Money())
    until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)  # internal: admins and the audit log
    #: What the member is told (a revoke's message); None: a neutral sentence instead.
    member_note: Mapped[str | None] = mapped_column(Text)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SubscriptionTerms(Model):
    """The terms of one subscription as recorded at one moment (history is kept)."""

    __tablename__ = "subscription_terms"
    __table_args__ = (UniqueConstraint("subscription_id", "source", "effective_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    source: Mapped[TermsSource] = mapped_column(StatusColumn(TermsSource, "source_known", 10))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: `gateway.billing.rules.terms.AgreedTerms.to_json()`
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
