"""Questions about a member's subscriptions: what already renews."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from models import Plan, Subscription, db

from ..billing.rules.statuses import PlanKind, SubscriptionState
from ..billing.rules.timetext import day_text, is_lifetime


def renewing(user_id: int, now: datetime) -> list[Subscription]:
    """The member's PayPal subscriptions that give access now and will renew, oldest first
    (a pass never renews: docs/passes.md)."""
    found = list(
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
    return [s for s in found if s.plan is None or not s.plan.is_pass]


def held_passes(user_id: int, now: datetime) -> dict[int, str]:
    """Pass plan -> when the member's pass of it ends ("lifetime", or the day), for the
    passes that give access now (buying one again extends it: docs/passes.md)."""
    rows = db.session.execute(
        select(Subscription.plan_id, Subscription.access_until)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(
            Subscription.user_id == user_id,
            Plan.kind == PlanKind.PASS,
            Subscription.access_until > now,
        )
    ).all()
    ends: dict[int, datetime] = {}
    for plan_id, until in rows:
        if plan_id is not None and until is not None:
            ends[plan_id] = max(until, ends.get(plan_id, until))
    return {p: "lifetime" if is_lifetime(end) else day_text(end) for p, end in ends.items()}


def renewing_plan_ids(subs: list[Subscription]) -> set[int]:
    """Plans already paid for and renewing (buying one again would double-bill)."""
    return {s.plan_id for s in subs if s.plan_id is not None}


def renewing_by_role(subs: list[Subscription]) -> dict[str, Subscription]:
    """Role -> the newest renewing subscription granting it (`subs` oldest first)."""
    return {role: s for s in subs if s.plan is not None for role in s.plan.role_names}


def sharing_a_role(subs: list[Subscription], plan: Plan) -> Subscription | None:
    """The newest renewing subscription granting any role `plan` grants: buying `plan`
    beside it is a switch, or paying twice for that access."""
    by_role = renewing_by_role(subs)
    found = [by_role[r] for r in plan.role_names if r in by_role]
    return max(found, key=lambda s: (s.created_at, s.id), default=None)


def double_billed(subs: list[Subscription]) -> list[Subscription]:
    """Older renewing subscriptions every role of which newer renewing ones already
    grant: after a switch, the member should cancel these at PayPal, or be charged twice."""
    newest = renewing_by_role(subs)
    return [
        s
        for s in subs
        if s.plan is not None
        and s.plan.role_names
        and all(newest[r] is not s for r in s.plan.role_names)
    ]
