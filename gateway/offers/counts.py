"""Each offer link's visits and signups, for the admin's plans page."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Plan, Subscription, db


def signups() -> dict[int, int]:
    """Subscriptions started on each offer's plan: a hidden plan is sold through its link
    only, so these are the link's signups."""
    rows = db.session.execute(
        select(Subscription.plan_id, func.count())
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(Plan.offer_code.is_not(None), Subscription.started_at.is_not(None))
        .group_by(Subscription.plan_id)
    )
    return {plan_id: n for plan_id, n in rows if plan_id is not None}
