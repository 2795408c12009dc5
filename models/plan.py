"""Plans: what a member buys, the roles it grants and the period one payment covers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.billing.rules.statuses import PlanKind, PlanRefKind

from .base import Model
from .role import Role, plan_roles
from .types import Money, StatusColumn, UTCDateTime


class Plan(Model):
    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("period_count > 0", name="period_count_positive"),
        CheckConstraint("period_unit IN ('D', 'W', 'M', 'Y')", name="period_unit_known"),
        CheckConstraint("trial_count IS NULL OR trial_count > 0", name="trial_count_positive"),
        CheckConstraint(
            "trial_unit IS NULL OR trial_unit IN ('D', 'W', 'M', 'Y')", name="trial_unit_known"
        ),
        CheckConstraint("seat_limit IS NULL OR seat_limit > 0", name="seat_limit_positive"),
        CheckConstraint("length(currency) = 3", name="currency_iso"),
        # Terms beyond one free trial, and offers (issue #24): see the block below.
        CheckConstraint("trial_price IS NULL OR trial_price >= 0", name="trial_price_not_negative"),
        CheckConstraint("trial2_count IS NULL OR trial2_count > 0", name="trial2_count_positive"),
        CheckConstraint(
            "trial2_unit IS NULL OR trial2_unit IN ('D', 'W', 'M', 'Y')", name="trial2_unit_known"
        ),
        CheckConstraint(
            "trial2_price IS NULL OR trial2_price >= 0", name="trial2_price_not_negative"
        ),
        CheckConstraint(
            "payment_count IS NULL OR payment_count > 0", name="payment_count_positive"
        ),
        # Passes (docs/passes.md): only a pass can be lifetime.
        CheckConstraint("NOT lifetime OR kind = 'pass'", name="lifetime_is_a_pass"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    price: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    period_count: Mapped[int] = mapped_column(Integer)
    period_unit: Mapped[str] = mapped_column(String(1))
    trial_count: Mapped[int | None] = mapped_column(Integer)
    trial_unit: Mapped[str | None] = mapped_column(String(1))
    paypal_plan_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    seat_limit: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: A pass is paid once and does not renew: its term is period_count/period_unit from
    #: the payment (or lifetime); buying it again extends it (docs/passes.md).
    kind: Mapped[PlanKind] = mapped_column(
        StatusColumn(PlanKind, "kind_known", 12),
        default=PlanKind.SUBSCRIPTION,
        server_default=PlanKind.SUBSCRIPTION.value,
    )
    lifetime: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    # --- Terms beyond one free trial, and offers (issue #24) ---
    #: The first trial's price (None or 0: free); PayPal's a1.
    trial_price: Mapped[Decimal | None] = mapped_column(Money())
    #: A second trial period after the first (PayPal's a2/p2/t2, a REST plan's second
    #: TRIAL cycle); free when its price is None or 0.
    trial2_count: Mapped[int | None] = mapped_column(Integer)
    trial2_unit: Mapped[str | None] = mapped_column(String(1))
    trial2_price: Mapped[Decimal | None] = mapped_column(Money())
    #: How many regular payments in all (src=1&srt=N, REST total_cycles; installments);
    #: None: until cancelled. After the last one the subscription ends with its period.
    payment_count: Mapped[int | None] = mapped_column(Integer)
    #: An offer: a plan hidden from every list, reachable only at /offer/<offer_code>.
    offer_code: Mapped[str | None] = mapped_column(String(40), unique=True)
    #: How many times the offer's link was opened (signups: its subscriptions).
    offer_visits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    #: The roles a member holds while subscribed (one or more; models/role.py).
    roles: Mapped[list[Role]] = relationship(
        secondary=plan_roles, order_by=Role.name, lazy="selectin"
    )

    UNIT_NAMES = {"D": "day", "W": "week", "M": "month", "Y": "year"}

    @property
    def period_label(self) -> str:
        unit = self.UNIT_NAMES[self.period_unit]
        return unit if self.period_count == 1 else f"{self.period_count} {unit}s"

    @property
    def listed(self) -> bool:
        """Shown on the plans page and the paywall: active and not an offer's hidden plan."""
        return self.active and not self.offer_code

    @property
    def trials_text(self) -> str:
        """E.g. "Trial: 1 day at 11.00 USD, then 1 month free" ("" with no trial)."""
        parts = []
        for count, unit, price in (
            (self.trial_count, self.trial_unit, self.trial_price),
            (self.trial2_count, self.trial2_unit, self.trial2_price),
        ):
            if not count or not unit:  # a second trial counts only after a first
                break
            length = f"{count} {self.UNIT_NAMES[unit]}{'s' if count > 1 else ''}"
            parts.append(f"{length} at {price} {self.currency}" if price else f"{length} free")
        return f"Trial: {', then '.join(parts)}" if parts else ""

    @property
    def is_pass(self) -> bool:
        return self.kind is PlanKind.PASS

    @property
    def term_label(self) -> str:
        """What one purchase or payment buys: "lifetime", "30 days", "month"."""
        return "lifetime" if self.lifetime else self.period_label

    @property
    def role_names(self) -> list[str]:
        return [r.name for r in self.roles]

    @property
    def roles_text(self) -> str:
        return ", ".join(r.title for r in self.roles)

    def __repr__(self) -> str:
        return f"<Plan {self.code}>"


class PlanIdentifier(Model):
    """Another name PayPal may use for a plan: a hosted button, an item number, a REST plan
    or a recurring profile's description. Unique per kind, without regard to case."""

    __tablename__ = "plan_identifiers"
    __table_args__ = (UniqueConstraint("kind", "match_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    kind: Mapped[PlanRefKind] = mapped_column(StatusColumn(PlanRefKind, "kind_known", 12))
    value: Mapped[str] = mapped_column(String(127))
    #: `value` lower-cased with its spaces collapsed: what matching compares.
    match_key: Mapped[str] = mapped_column(String(127))
