"""Questions about a member's subscriptions: the gate's roles and what already renews."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from models import Plan, Subscription, db

from ..billing.statuses import SubscriptionState


def roles_for(user_id: int) -> dict[str, datetime]:
    """Each role the member ever held, with its latest access_until."""
    rows = db.session.execute(
        select(Plan.role, func.max(Subscription.access_until))
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(Subscription.user_id == user_id, Subscription.access_until.is_not(None))
        .group_by(Plan.role)
    )
    return {role: until for role, until in rows if until is not None}


def renewing_plan_ids(user_id: int, now: datetime) -> set[int]:
    """Plans the member already pays for and that will renew (a second one would double-bill)."""
    return set(
        db.session.scalars(
            select(Subscription.plan_id).where(
                Subscription.user_id == user_id,
                Subscription.state == SubscriptionState.ACTIVE,
                Subscription.paypal_id.is_not(None),
                Subscription.access_until > now,
            )
        )
    )
