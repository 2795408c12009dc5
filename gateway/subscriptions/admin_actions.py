"""The admin's manual actions on access: grant, extend, revoke, assign. Each is audited
and each refusal is a ValueError whose text the admin sees."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import update

from models import Plan, Subscription, SubscriptionFact, User, db

from ..billing import Entitlement, Fact, FactKind
from ..billing.rules.statuses import SubscriptionState, TermsSource
from ..billing.rules.terms import AgreedTerms, differences
from ..records.audit import audit
from ..records.flags import raise_flag, resolve_flags_of
from . import recorded_terms as agreed
from .service import bump_access_version, recompute, record_fact

SOURCE = "admin"


def _admin_fact(kind: FactKind, now: datetime, until: datetime | None = None) -> Fact:
    return Fact(kind=kind, at=now, key=f"admin:{uuid.uuid4().hex}", until=until)


#: Said in the audit log of an action with no admin behind it (an operator's command).
OPERATOR = {"by": "an operator, on the command line"}


def grant(
    actor: User | None, member: User, plan: Plan, until: datetime, reason: str, now: datetime
) -> Subscription:
    """Open a manual (non-PayPal) subscription giving `plan`'s role until `until`.
    `actor` None: an operator's command (the audit log says so)."""
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
        details={"plan": plan.code, "until": until.isoformat(), "member": member.email}
        | (OPERATOR if actor is None else {}),
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


def revoke(
    actor: User | None, sub: Subscription, reason: str, now: datetime, member_note: str = ""
) -> Entitlement:
    """End this subscription's access now (`actor` None: an operator's command). `reason`
    is internal (the audit log, admin pages); `member_note`, if any, is what the member
    reads on their account page and in the access-ended mail (else a neutral sentence)."""
    fact = _admin_fact(FactKind.REVOKED, now)
    record_fact(sub, fact, source=SOURCE, now=now, actor=actor, note=reason)
    if member_note.strip():
        db.session.execute(
            update(SubscriptionFact)
            .where(
                SubscriptionFact.subscription_id == sub.id,
                SubscriptionFact.kind == fact.kind.value,
                SubscriptionFact.key == fact.key,
            )
            .values(member_note=member_note.strip())
        )
    ent = recompute(sub, now)  # the state becomes "revoked", so this bumps the member's version
    details = (OPERATOR if actor is None else {}) | (
        {"member_note": member_note.strip()} if member_note.strip() else {}
    )
    audit(actor, "revoke", "subscription", sub.id, now=now, reason=reason, details=details or None)
    return ent


def assign(
    actor: User,
    sub: Subscription,
    plan: Plan | None,
    member: User | None,
    reason: str,
    now: datetime,
) -> list[str]:
    """Give a subscription its missing plan and/or member; access is then computed from
    every fact already stored. Returns notes for the admin (e.g. a signup whose terms do
    not match the plan, which then gets no trial).

    Only what is missing can be assigned: a known plan or member is never replaced here.
    """
    if plan is None and member is None:
        raise ValueError("choose a plan, a member, or both")
    if plan is not None and sub.plan_id is not None and sub.plan_id != plan.id:
        raise ValueError("this subscription already has a plan")
    if member is not None and sub.user_id is not None and sub.user_id != member.id:
        raise ValueError("this subscription already belongs to a member")
    notes: list[str] = []
    if plan is not None and sub.plan_id is None:
        sub.plan_id, sub.plan = plan.id, plan
        notes += _adopt_plan_terms(sub, plan, now)
    if member is not None and sub.user_id is None:
        sub.user_id = member.id
        bump_access_version(member.id)
    recompute(sub, now)
    settled = ({"plan"} if plan else set()) | ({"unclaimed"} if member else set())
    resolve_flags_of(sub, settled, actor, f"assigned by an admin: {reason}", now)
    audit(
        actor,
        "assign",
        "subscription",
        sub.id,
        now=now,
        reason=reason,
        details={
            "plan": plan.code if plan else None,
            "member": member.email if member else None,
            "paypal_id": sub.paypal_id,
            "notes": notes,
        },
    )
    return notes


def _adopt_plan_terms(sub: Subscription, plan: Plan, now: datetime) -> list[str]:
    """The plan's terms become the offer; a signup PayPal reported earlier is checked
    against them now, as it would have been on arrival: only a match earns its trial."""
    offer = agreed.plan_terms(plan)
    agreed.record_terms(sub, TermsSource.OFFER, sub.created_at, offer, now)
    signup = next((r for r in agreed.history(sub) if r.source is TermsSource.SIGNUP), None)
    if signup is None:
        return []
    reported = AgreedTerms.from_json(signup.terms)
    found = differences(offer, reported)
    if found:
        message = (
            f"the signup's terms differ from plan {plan.code} ({offer.describe()}): "
            f"{'; '.join(found)}; no trial granted"
        )
        raise_flag("terms", message, now, subscription_id=sub.id)
        return [message]
    trial_end = reported.trial_end(signup.effective_at)
    if trial_end is not None:
        record_fact(
            sub,
            Fact(FactKind.TRIAL, signup.effective_at, key="trial", until=trial_end),
            source=SOURCE,
            now=now,
            actor=None,
            note="trial of the signup, checked on assignment",
        )
    return []
