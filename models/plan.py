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
