"""Each subscription's recorded terms: the offer, the signup as PayPal reports it, changes.

The pure rules (what differs, what a payment may amount to) are in `billing/rules/terms.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from models import Checkout, Plan, Subscription, SubscriptionTerms, db

from ..billing.rules.periods import PeriodUnit
from ..billing.rules.statuses import PlanKind, TermsSource
from ..billing.rules.terms import AgreedTerms
from ..database import insert_new


def plan_terms(plan: Plan) -> AgreedTerms:
    """What a plan offers today (a checkout freezes this when it opens): up to two trials,
    each free or paid, and its number of payments; a pass has none of these."""
    is_pass = plan.kind is PlanKind.PASS
    trial = plan.trial_count and plan.trial_unit and not is_pass
    second = trial and plan.trial2_count and plan.trial2_unit
    terms = AgreedTerms(
        price=plan.price,
        currency=plan.currency,
        period_count=plan.period_count,
        period_unit=PeriodUnit(plan.period_unit),
        trial_count=plan.trial_count if trial else None,
        trial_unit=PeriodUnit(plan.trial_unit) if trial and plan.trial_unit else None,
        trial_price=(plan.trial_price or Decimal(0)) if trial else None,
        cycles=(plan.payment_count or None) if not is_pass else None,
        trial2_count=plan.trial2_count if second else None,
        trial2_unit=PeriodUnit(plan.trial2_unit) if second and plan.trial2_unit else None,
        trial2_price=(plan.trial2_price or Decimal(0)) if second else None,
    )
    if is_pass:  # paid once: no trial, no renewal (docs/passes.md)
        return replace(terms, one_time=True, lifetime=plan.lifetime, recurring=False)
    return terms


def checkout_offer(checkout: Checkout) -> AgreedTerms:
    """What a checkout offered: the terms it froze when it opened (older checkouts froze
    none: their plan's terms today)."""
    if checkout.offered_terms:
        return AgreedTerms.from_json(checkout.offered_terms)
    return plan_terms(checkout.plan)


def record_terms(
    sub: Subscription,
    source: TermsSource,
    at: datetime,
    terms: AgreedTerms,
    now: datetime,
    notification_id: int | None = None,
) -> bool:
    """Keep these terms in the subscription's history; False if already recorded."""
    return bool(
        insert_new(
            SubscriptionTerms,
            [
                {
                    "subscription_id": sub.id,
                    "source": source.value,
                    "effective_at": at,
                    "terms": terms.to_json(),
                    "notification_id": notification_id,
                    "recorded_at": now,
                }
            ],
            unique=("subscription_id", "source", "effective_at"),
            returning=("id",),
        )
    )


def history(sub: Subscription) -> list[SubscriptionTerms]:
    return list(
        db.session.scalars(
            select(SubscriptionTerms)
            .where(SubscriptionTerms.subscription_id == sub.id)
            .order_by(SubscriptionTerms.effective_at, SubscriptionTerms.id)
        )
    )


def histories(sub_ids: Sequence[int]) -> dict[int, list[SubscriptionTerms]]:
    """`history` of each of these subscriptions, in one query."""
    found: dict[int, list[SubscriptionTerms]] = {}
    for row in db.session.scalars(
        select(SubscriptionTerms)
        .where(SubscriptionTerms.subscription_id.in_(list(sub_ids)))
        .order_by(SubscriptionTerms.effective_at, SubscriptionTerms.id)
    ):
        found.setdefault(row.subscription_id, []).append(row)
    return found


def offer_of(sub: Subscription, rows: list[SubscriptionTerms] | None = None) -> AgreedTerms | None:
    """What we offered this subscription (its plan's terms if nothing was recorded; None
    while its plan is unknown). `rows`: the history, if already loaded."""
    for row in history(sub) if rows is None else rows:
        if row.source is TermsSource.OFFER:
            return AgreedTerms.from_json(row.terms)
    return plan_terms(sub.plan) if sub.plan is not None else None


def in_force(
    sub: Subscription, at: datetime | None = None, rows: list[SubscriptionTerms] | None = None
) -> AgreedTerms | None:
    """The terms that applied at `at` (the latest if None): the last agreed or changed
    terms effective by then, else the offer or the earliest recorded, else the plan's
    (None while the plan is unknown and nothing was recorded). `rows`: the history, if
    already loaded."""
    rows = history(sub) if rows is None else rows
    agreed = [r for r in rows if r.source is not TermsSource.OFFER] or rows
    if not agreed:
        return plan_terms(sub.plan) if sub.plan is not None else None
    current = None
    for row in agreed:
        if at is None or row.effective_at <= at:
            current = row
    if current is None:
        # Before every agreed or changed terms: the offer (a REST subscription records no
        # signup, only the offer and later plan changes), else the earliest.
        current = next((r for r in rows if r.source is TermsSource.OFFER), agreed[0])
    return AgreedTerms.from_json(current.terms)
