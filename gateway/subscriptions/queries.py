"""Questions about a member's subscriptions: the gate's roles and what already renews."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from models import Plan, Subscription, db

from ..billing.rules.statuses import SubscriptionState


def roles_for(user_id: int) -> dict[str, datetime]:
    """Each role the member ever held, with its latest access_until."""
    rows = db.session.execute(
        select(Plan.role, func.max(Subscription.access_until))
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(Subscription.user_id == user_id, Subscription.access_until.is_not(None))
        .group_by(Plan.role)
    )
    return {role: until for role, until in rows if until is not None}


def renewing(user_id: int, now: datetime) -> list[Subscription]:
    """The member's PayPal subscriptions that give access now and will renew, oldest first."""
    return list(
        db.session.scalars(
            select(Subscription)
            .where(
                Subscription.user_id == user_id,
                Subscription.state == SubscriptionState.ACTIVE,
                Subscription.paypal_id.is_not(None),
                Subscription.access_until > now,
            )
            .order_by(Subscription.created_at, Subscription.id)
        )
    )


def renewing_plan_ids(subs: list[Subscription]) -> set[int]:
    """Plans already paid for and renewing (buying one again would double-bill)."""
    return {s.plan_id for s in subs if s.plan_id is not None}


def renewing_by_role(subs: list[Subscription]) -> dict[str, Subscription]:
    """Role -> the newest renewing subscription granting it."""
    return {s.plan.role: s for s in subs if s.plan is not None}


def double_billed(subs: list[Subscription]) -> list[Subscription]:
    """Older renewing subscriptions whose role a newer renewing one already grants: after
    a switch, the member should cancel these at PayPal, or be charged twice."""
    newest = renewing_by_role(subs)
    return [s for s in subs if s.plan is not None and newest[s.plan.role] is not s]
