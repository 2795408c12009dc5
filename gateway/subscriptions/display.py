"""A subscription's state in words, for members and admins."""

from __future__ import annotations

from datetime import datetime

from models import Subscription

from ..billing import Entitlement, compute, status_at
from ..billing.entitlements import explain
from .service import billing_period, facts_of, policy


def status_of(sub: Subscription, at: datetime) -> str:
    """The status word for a subscription at `at`, from its cached dates (no recompute)."""
    ent = Entitlement(
        state=sub.state,
        trial_until=sub.trial_until,
        paid_through=sub.paid_through,
        grace_until=sub.grace_until,
        access_until=sub.access_until,
    )
    return status_at(ent, at)


def explanation(sub: Subscription) -> list[str]:
    """Why this subscription gives access until when, recomputed from its facts."""
    pol = policy()
    return explain(compute(facts_of(sub), billing_period(sub), pol), pol)
