"""Subscription service: store facts, recompute state, and the admin's manual actions.

The billing core decides; this module only loads facts, calls it and writes the result.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Optional

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from models import AuditEntry, Payment, Plan, Subscription, SubscriptionFact, User, db

from .billing import Entitlement, Fact, FactKind, Policy, Terms, compute, status_at
from .billing.entitlements import CancelPolicy, State, explain
from .billing.periods import PeriodUnit


def policy() -> Policy:
    cfg = current_app.config
    return Policy(grace_days=int(cfg["GRACE_DAYS"]), cancel=CancelPolicy(cfg["CANCEL_POLICY"]))


def terms(plan: Plan) -> Terms:
    return Terms(plan.period_count, PeriodUnit(plan.period_unit))


def facts_of(sub: Subscription) -> list[Fact]:
    rows = db.session.scalars(
        select(SubscriptionFact).where(SubscriptionFact.subscription_id == sub.id))
    return [Fact(kind=FactKind(r.kind), at=r.at, key=r.key, txn_id=r.txn_id,
                 amount=r.amount, until=r.until) for r in rows]


def record_fact(sub: Subscription, fact: Fact, *, source: str, now: datetime,
                actor: Optional[User] = None, note: Optional[str] = None,
                notification_id: Optional[int] = None) -> bool:
    """Insert a fact; False when the same (kind, key) is already known (a re-delivery)."""
    row = SubscriptionFact(
        subscription_id=sub.id, kind=fact.kind.value, key=fact.key, at=fact.at,
        txn_id=fact.txn_id, amount=fact.amount, until=fact.until, source=source,
        actor_id=actor.id if actor else None, note=note, notification_id=notification_id,
        recorded_at=now)
    try:
        with db.session.begin_nested():  # savepoint: a duplicate must not undo the caller's work
            db.session.add(row)
    except IntegrityError:
        return False
    return True


def recompute(sub: Subscription, now: datetime) -> Entitlement:
    """Rewrite the subscription's cached dates from its facts; bump the member's access version."""
    facts = facts_of(sub)
    ent = compute(facts, terms(sub.plan), policy())
    before = (sub.access_until, sub.state)
    sub.state = ent.state.value
    sub.started_at = ent.started_at
    sub.trial_until = ent.trial_until
    sub.paid_through = ent.paid_through
    sub.grace_until = ent.grace_until
    sub.access_until = ent.access_until
    sub.cancelled_at = ent.cancelled_at
    sub.ended_at = ent.ended_at
    sub.updated_at = now
    bought = {p.txn_id: p for p in ent.periods}
    for pay in db.session.scalars(select(Payment).where(Payment.subscription_id == sub.id)):
        period = bought.get(pay.txn_id)
        pay.period_start = period.start if period else None
        pay.period_end = period.end if period else None
        pay.status = _payment_status(facts, pay) or pay.status
    if before != (sub.access_until, sub.state) and sub.user_id is not None:
        bump_access_version(sub.user_id)
    return ent


def bump_access_version(user_id: int) -> None:
    """Make every session of this member recompute its roles on its next request."""
    db.session.execute(db.update(User).where(User.id == user_id)
                       .values(access_version=User.access_version + 1))


def audit(actor: Optional[User], action: str, subject_type: str, subject_id: int, *,
          now: datetime, reason: Optional[str] = None, details: Optional[dict] = None) -> None:
    db.session.add(AuditEntry(at=now, actor_id=actor.id if actor else None, action=action,
                              subject_type=subject_type, subject_id=subject_id,
                              reason=reason, details=details))


def _admin_fact(kind: FactKind, now: datetime, until: Optional[datetime] = None) -> Fact:
    return Fact(kind=kind, at=now, key=f"admin:{uuid.uuid4().hex}", until=until)


def grant(actor: User, member: User, plan: Plan, until: datetime, reason: str,
          now: datetime) -> Subscription:
    """Open a manual (non-PayPal) subscription giving `plan`'s role until `until`."""
    if until <= now:
        raise ValueError("the grant must end in the future")
    sub = Subscription(user_id=member.id, plan_id=plan.id, state="pending",
                       created_at=now, updated_at=now)
    sub.plan = plan
    db.session.add(sub)
    db.session.flush()
    record_fact(sub, _admin_fact(FactKind.GRANTED, now, until), source="admin", now=now,
                actor=actor, note=reason)
    recompute(sub, now)
    audit(actor, "grant", "subscription", sub.id, now=now, reason=reason,
          details={"plan": plan.code, "until": until.isoformat(), "member": member.email})
    return sub


def extend(actor: User, sub: Subscription, until: datetime, reason: str,
           now: datetime) -> Entitlement:
    """Give access until `until` on an existing subscription (lifts an earlier revoke)."""
    if until <= now:
        raise ValueError("the new end must lie in the future")
    if sub.access_until is not None and until <= sub.access_until:
        raise ValueError("the new end must be later than the current one")
    record_fact(sub, _admin_fact(FactKind.GRANTED, now, until), source="admin", now=now,
                actor=actor, note=reason)
    ent = recompute(sub, now)
    audit(actor, "extend", "subscription", sub.id, now=now, reason=reason,
          details={"until": until.isoformat()})
    return ent


def revoke(actor: User, sub: Subscription, reason: str, now: datetime) -> Entitlement:
    """End this subscription's access now."""
    record_fact(sub, _admin_fact(FactKind.REVOKED, now), source="admin", now=now,
                actor=actor, note=reason)
    ent = recompute(sub, now)   # the state becomes "revoked", so this bumps the member's version
    audit(actor, "revoke", "subscription", sub.id, now=now, reason=reason)
    return ent


def roles_for(user_id: int) -> dict[str, datetime]:
    """Each role the member ever held, with its latest access_until."""
    rows = db.session.execute(
        select(Plan.role, func.max(Subscription.access_until))
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(Subscription.user_id == user_id, Subscription.access_until.is_not(None))
        .group_by(Plan.role))
    return {role: until for role, until in rows if until is not None}


def status_of(sub: Subscription, at: datetime) -> str:
    """The status word for a subscription at `at`, from its cached dates (no recompute)."""
    ent = Entitlement(state=State(sub.state), trial_until=sub.trial_until,
                      paid_through=sub.paid_through, grace_until=sub.grace_until,
                      access_until=sub.access_until)
    return status_at(ent, at)


def _payment_status(facts: list[Fact], pay: Payment) -> Optional[str]:
    """PayPal's current status of a payment, from the facts (arrival order cannot regress it)."""
    mine = [f for f in facts if f.txn_id == pay.txn_id]
    kinds = {f.kind for f in mine}
    refunded = sum((abs(f.amount) for f in mine if f.kind is FactKind.REFUNDED and f.amount),
                   Decimal(0))
    if FactKind.REVERSED in kinds and FactKind.REVERSAL_CANCELLED not in kinds:
        return "Reversed"
    if FactKind.REFUNDED in kinds:
        return "Refunded" if refunded >= pay.amount else "Partially_Refunded"
    if FactKind.PAYMENT_COMPLETED in kinds:
        return "Completed"
    return "Pending" if FactKind.PAYMENT_PENDING in kinds else None


def explanation(sub: Subscription) -> list[str]:
    """Why this subscription gives access until when, recomputed from its facts."""
    pol = policy()
    return explain(compute(facts_of(sub), terms(sub.plan), pol), pol)


def attach(actor: User, sub: Subscription, member: User, reason: str, now: datetime) -> None:
    """Give an unclaimed subscription to a member (audited)."""
    if sub.user_id is not None:
        raise ValueError("this subscription already belongs to a member")
    sub.user_id = member.id
    recompute(sub, now)
    bump_access_version(member.id)
    audit(actor, "attach", "subscription", sub.id, now=now, reason=reason,
          details={"member": member.email, "paypal_id": sub.paypal_id})


def renewing_plan_ids(user_id: int, now: datetime) -> set[int]:
    """Plans the member already pays for and that will renew (a second one would double-bill)."""
    return set(db.session.scalars(select(Subscription.plan_id).where(
        Subscription.user_id == user_id, Subscription.state == "active",
        Subscription.paypal_id.is_not(None), Subscription.access_until > now)))
