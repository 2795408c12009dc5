"""Plain factory functions for test rows (no factory_boy)."""

from __future__ import annotations

from decimal import Decimal
from itertools import count

from gateway.roles.service import ensure_roles
from models import Plan, User

PASSWORD = "correct horse battery"
_seq = count(1)


def user_factory(db, clock):
    def make(email: str | None = None, *, is_admin: bool = False, password: str = PASSWORD) -> User:
        user = User(
            email=email or f"member{next(_seq)}@example.com",
            is_admin=is_admin,
            created_at=clock.now(),
        )
        user.set_password(password, "pbkdf2:sha256:1000")
        db.session.add(user)
        db.session.commit()
        return user

    return make


def plan_factory(db, clock):
    def make(
        code: str | None = None,
        *,
        role: str = "premium",
        roles: tuple[str, ...] = (),
        price: str = "9.00",
        currency: str = "USD",
        period_count: int = 1,
        period_unit: str = "M",
        **extra,
    ) -> Plan:
        plan = Plan(
            code=code or f"plan-{next(_seq)}",
            name=(code or "Plan").title(),
            roles=ensure_roles(roles or (role,), clock.now()),
            price=Decimal(price),
            currency=currency,
            period_count=period_count,
            period_unit=period_unit,
            active=True,
            created_at=clock.now(),
            **extra,
        )
        db.session.add(plan)
        db.session.commit()
        return plan

    return make


def subscription_factory(db, clock):
    """make(user, plan, facts=[Fact...], paypal_id=None) -> Subscription, recomputed."""
    from gateway.subscriptions import service
    from models import Subscription

    def make(user, plan, facts=(), paypal_id=None):
        sub = Subscription(
            user_id=user.id if user else None,
            plan_id=plan.id,
            paypal_id=paypal_id,
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        db.session.add(sub)
        db.session.flush()
        for fact in facts:
            service.record_fact(sub, fact, source="test", now=clock.now())
        service.recompute(sub, clock.now())
        db.session.commit()
        return sub

    return make
