"""Questions about a member's subscriptions: what already renews."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from models import Subscription, db

from ..billing.rules.statuses import SubscriptionState


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
