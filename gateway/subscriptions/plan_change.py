"""Following a plan change PayPal made (a revise): a verified message or PayPal's own
answer names another of our REST plans, newer than the plan we hold.

Only then does the subscription move to the new plan, and its roles with it: a member's
request to change plans (gateway/member/manage.py) changes nothing here by itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from models import Plan, Subscription, SubscriptionTerms, db

from ..billing.rules.interpretation import Interpretation
from ..billing.rules.statuses import PlanRefKind, TermsSource
from ..records.flags import raise_flag
from . import recorded_terms as agreed
from .plan_identity import find_plan
from .service import bump_access_version


def follow_plan(
    sub: Subscription, meaning: Interpretation, now: datetime, notification_id: int | None
) -> Plan | None:
    """Move `sub` to the REST plan the message names, if it is another of ours and the
    message is newer than the last change; returns the new plan, else None."""
    refs = [r for r in meaning.plan_refs if r.kind is PlanRefKind.REST_PLAN]
    if sub.plan is None or not refs or meaning.plan_at is None:
        return None  # an unknown plan is an admin's to assign, not ours to guess
    named = find_plan(refs)
    if named is None or named.id == sub.plan_id:
        return None
    last_change = db.session.scalar(
        select(func.max(SubscriptionTerms.effective_at)).where(
            SubscriptionTerms.subscription_id == sub.id,
            SubscriptionTerms.source == TermsSource.CHANGE,
        )
    )
    if last_change is not None and meaning.plan_at <= last_change:
        return None  # an older message (a late re-delivery) names the plan we left
    old = sub.plan
    if not agreed.history(sub):  # keep what the payments so far were judged by
        agreed.record_terms(sub, TermsSource.OFFER, sub.created_at, agreed.plan_terms(old), now)
    agreed.record_terms(
        sub, TermsSource.CHANGE, meaning.plan_at, agreed.plan_terms(named), now, notification_id
    )
    sub.plan_id, sub.plan = named.id, named
    if (old.period_count, old.period_unit) != (named.period_count, named.period_unit):
        # One billing period is laid over all of a subscription's payments.
        raise_flag(
            "terms",
            f"subscription {sub.paypal_id} moved at PayPal from {old.code} to {named.code}, "
            "whose billing period differs: check its paid-through date",
            now,
            notification_id=notification_id,
            subscription_id=sub.id,
        )
    if sub.user_id is not None:
        bump_access_version(sub.user_id)  # the roles come from the plan
    return named
