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


def renewing_by_role(user_id: int, now: datetime) -> dict[str, Subscription]:
    """Role -> the member's renewing PayPal subscription granting it (the latest one)."""
    subs = db.session.scalars(
        select(Subscription)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(
            Subscription.user_id == user_id,
            Subscription.state == SubscriptionState.ACTIVE,
            Subscription.paypal_id.is_not(None),
            Subscription.access_until > now,
        )
        .order_by(Subscription.created_at)
    ).all()
    return {sub.plan.role: sub for sub in subs if sub.plan is not None}


def double_billed(user_id: int, now: datetime) -> list[Subscription]:
    """Older renewing subscriptions whose role a newer renewing one already grants: after
    a switch, the member should cancel these at PayPal, or be charged twice."""
    subs = db.session.scalars(
        select(Subscription)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(
            Subscription.user_id == user_id,
            Subscription.state == SubscriptionState.ACTIVE,
            Subscription.paypal_id.is_not(None),
            Subscription.access_until > now,
        )
        .order_by(Subscription.created_at.desc(), Subscription.id.desc())
    ).all()
    seen: set[str] = set()
    older = []
    for sub in subs:
        role = sub.plan.role if sub.plan else ""
        if role in seen:
            older.append(sub)
        seen.add(role)
    return older
