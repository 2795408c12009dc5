"""A subscription's state in words, for members and admins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from models import Subscription, SubscriptionFact, db

from ..billing import Entitlement, Fact, FactKind, compute, status_at
from ..billing.rules.entitlements import explain, is_past_due
from ..billing.rules.reasons import reason
from ..clock import day_text
from . import recorded_terms as agreed
from .service import billing_period, facts_of, policy


def _cached(sub: Subscription) -> Entitlement:
    """The subscription's entitlement as its row caches it (no recompute)."""
    return Entitlement(
        state=sub.state,
        trial_until=sub.trial_until,
        paid_through=sub.paid_through,
        grace_until=sub.grace_until,
        access_until=sub.access_until,
    )


def status_of(sub: Subscription, at: datetime) -> str:
    """The status word for a subscription at `at`, from its cached dates (no recompute)."""
    return status_at(_cached(sub), at)


def access_after(sub: Subscription, fact: Fact) -> Entitlement:
    """What the subscription would become with `fact` added (a confirmation page says
    it before an admin or member commits to it); nothing is written."""
    return compute([*facts_of(sub), fact], billing_period(sub), policy())


def explanation(sub: Subscription) -> list[str]:
    """Why this subscription gives access until when, recomputed from its facts."""
    pol = policy()
    return explain(compute(facts_of(sub), billing_period(sub), pol), pol)


def reason_of(sub: Subscription, at: datetime) -> str:
    """The sentence the member page shows, e.g. "Refunded on 3 Feb 2026; nothing is paid
    for." or why a signup was refused."""
    if sub.plan_id is None:
        return "Your payment is recorded; we are matching it to a plan. Contact us if this lasts."
    revoked = db.session.execute(
        select(SubscriptionFact.member_note, SubscriptionFact.at)
        .where(
            SubscriptionFact.subscription_id == sub.id,
            SubscriptionFact.kind == FactKind.REVOKED.value,
        )
        .order_by(SubscriptionFact.at.desc(), SubscriptionFact.id.desc())
        .limit(1)
    ).first()
    ent = Entitlement(
        state=sub.state,
        trial_until=sub.trial_until,
        paid_through=sub.paid_through,
        grace_until=sub.grace_until,
        access_until=sub.access_until,
        cancelled_at=sub.cancelled_at,
        ended_at=sub.ended_at,
        revoked_at=revoked.at if revoked is not None else None,
        money_back_at=_money_back_at(sub),
    )
    # Only the message written for the member: the admin's reason (`note`) stays internal.
    note = revoked.member_note if revoked is not None and revoked.member_note else ""
    return reason(ent, at, revoke_note=note, renews=sub.renews)


def _money_back_at(sub: Subscription) -> datetime | None:
    return db.session.scalar(
        select(func.max(SubscriptionFact.at)).where(
            SubscriptionFact.subscription_id == sub.id,
            SubscriptionFact.kind.in_((FactKind.REFUNDED.value, FactKind.REVERSED.value)),
        )
    )


def next_charge(sub: Subscription, at: datetime) -> str:
    """When PayPal will charge next and how much, from the subscription's own terms; "" if
    it will not (cancelled, ended, manual, or already past due)."""
    if not sub.renews or sub.paid_through is None or sub.paid_through <= at:
        return ""
    terms = agreed.in_force(sub)
    amount = f"{terms.price} {terms.currency}" if terms else "the agreed amount"
    return f"{amount} on {day_text(sub.paid_through)}"


def past_due(sub: Subscription, at: datetime) -> bool:
    """A renewal failed and PayPal is still retrying: access runs until the grace ends."""
    return is_past_due(_cached(sub), at)
