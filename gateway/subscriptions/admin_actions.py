"""The admin's manual actions on access: grant, extend, revoke, attach. Each is audited
and each refusal is a ValueError whose text the admin sees."""

from __future__ import annotations

import uuid
from datetime import datetime

from models import Plan, Subscription, User, db

from ..audit import audit
from ..billing import Entitlement, Fact, FactKind
from ..billing.statuses import SubscriptionState
from .service import bump_access_version, recompute, record_fact

SOURCE = "admin"


def _admin_fact(kind: FactKind, now: datetime, until: datetime | None = None) -> Fact:
    return Fact(kind=kind, at=now, key=f"admin:{uuid.uuid4().hex}", until=until)


def grant(
    actor: User, member: User, plan: Plan, until: datetime, reason: str, now: datetime
) -> Subscription:
    """Open a manual (non-PayPal) subscription giving `plan`'s role until `until`."""
    if until <= now:
        raise ValueError("the grant must end in the future")
    sub = Subscription(
        user_id=member.id,
        plan_id=plan.id,
        state=SubscriptionState.PENDING,
        created_at=now,
        updated_at=now,
    )
    sub.plan = plan
    db.session.add(sub)
    db.session.flush()
    record_fact(
        sub,
        _admin_fact(FactKind.GRANTED, now, until),
        source=SOURCE,
        now=now,
        actor=actor,
        note=reason,
    )
    recompute(sub, now)
    audit(
        actor,
        "grant",
        "subscription",
        sub.id,
        now=now,
        reason=reason,
        details={"plan": plan.code, "until": until.isoformat(), "member": member.email},
    )
    return sub


def extend(
    actor: User, sub: Subscription, until: datetime, reason: str, now: datetime
) -> Entitlement:
    """Give access until `until` on an existing subscription (lifts an earlier revoke)."""
    if until <= now:
        raise ValueError("the new end must lie in the future")
    if sub.access_until is not None and until <= sub.access_until:
        raise ValueError("the new end must be later than the current one")
    record_fact(
        sub,
        _admin_fact(FactKind.GRANTED, now, until),
        source=SOURCE,
        now=now,
        actor=actor,
        note=reason,
    )
    ent = recompute(sub, now)
    audit(
        actor,
        "extend",
        "subscription",
        sub.id,
        now=now,
        reason=reason,
        details={"until": until.isoformat()},
    )
    return ent


def revoke(actor: User, sub: Subscription, reason: str, now: datetime) -> Entitlement:
    """End this subscription's access now."""
    record_fact(
        sub, _admin_fact(FactKind.REVOKED, now), source=SOURCE, now=now, actor=actor, note=reason
    )
    ent = recompute(sub, now)  # the state becomes "revoked", so this bumps the member's version
    audit(actor, "revoke", "subscription", sub.id, now=now, reason=reason)
    return ent


def attach(actor: User, sub: Subscription, member: User, reason: str, now: datetime) -> None:
    """Give an unclaimed subscription to a member (audited)."""
    if sub.user_id is not None:
        raise ValueError("this subscription already belongs to a member")
    sub.user_id = member.id
    recompute(sub, now)
    bump_access_version(member.id)
    audit(
        actor,
        "attach",
        "subscription",
        sub.id,
        now=now,
        reason=reason,
        details={"member": member.email, "paypal_id": sub.paypal_id},
    )
