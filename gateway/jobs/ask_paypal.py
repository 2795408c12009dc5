"""The ask-paypal job: where a message may have been lost, ask PayPal's API ourselves.

Two kinds of silence are looked for: a REST checkout whose subscription PayPal created
but whose activation or first payment we have not heard of, and a REST subscription
whose renewal date has passed by PAYPAL_ASK_AFTER_HOURS with no payment recorded. What
PayPal answers enters the pipeline as `api` notifications (checkout/asking.py), so a
member who paid gets access even when IPN and webhook were both lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from models import Checkout, Plan, Subscription, db, plan_roles

from ..billing.rules.statuses import CheckoutFlow, CheckoutStatus, PlanKind, SubscriptionState
from ..checkout import rest_cancel
from ..checkout.asking import ask
from ..passes import orders as passes_orders
from ..paypal.api import ApiError, api_client

#: A checkout is asked about for this long after it was opened.
CHECKOUT_WINDOW = timedelta(days=2)
#: A renewal is asked about for this long after it was due (then reconciliation's job).
RENEWAL_WINDOW = timedelta(days=35)
#: Subscriptions asked about per run (the next run takes the rest).
BATCH = 50


def ask_paypal(now: datetime) -> str:
    api = api_client()
    if not api.configured:
        return "REST API not configured: nothing asked"
    targets = _unlinked_checkouts(now) + _overdue_renewals(now)
    stored = failed = 0
    errors: list[str] = []
    for paypal_id, since in targets[:BATCH]:
        try:
            stored += len(ask(api, paypal_id, since, now))
        except ApiError as e:
            failed += 1
            errors.append(f"{paypal_id}: {e.for_admin()}")
        db.session.commit()
    orders_settled, order_errors = passes_orders.follow_up(now)  # passes (docs/passes.md)
    db.session.commit()
    errors += order_errors
    failed += len(order_errors)
    replaced = 0
    for user_id in _members_paying_twice(now):
        try:
            replaced += len(rest_cancel.cancel_replaced(user_id, now))
        except ApiError as e:
            failed += 1
            errors.append(f"cancelling a replaced subscription of member {user_id}: {e}")
        db.session.commit()
    if errors:
        current_app.logger.warning("ask-paypal: %s", "; ".join(errors[:5]))
    summary = (
        f"asked about {min(len(targets), BATCH)} subscription(s), {stored} new answer(s), "
        f"{replaced} replaced subscription(s) cancelled, {orders_settled} pass order(s) settled"
    )
    return summary + (f", {failed} failed ({errors[0]})" if failed else "")


def _members_paying_twice(now: datetime) -> list[int]:
    """Members with two renewing subscriptions granting one role (after a switch)."""
    rows = db.session.execute(
        select(Subscription.user_id)
        .join(plan_roles, plan_roles.c.plan_id == Subscription.plan_id)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(
            Plan.kind != PlanKind.PASS,  # a pass beside a subscription is not paying twice
            Subscription.user_id.is_not(None),
            Subscription.state == SubscriptionState.ACTIVE,
            Subscription.paypal_id.is_not(None),
            Subscription.access_until > now,
        )
        .group_by(Subscription.user_id, plan_roles.c.role_id)
        .having(func.count() > 1)
    ).all()
    return sorted({user_id for (user_id,) in rows if user_id is not None})


def _unlinked_checkouts(now: datetime) -> list[tuple[str, datetime]]:
    """REST checkouts with a PayPal subscription but no subscription of ours yet."""
    rows = db.session.execute(
        select(Checkout.paypal_subscription_id, Checkout.created_at)
        .join(Plan, Plan.id == Checkout.plan_id)
        .where(
            Plan.kind != PlanKind.PASS,  # an order, not a subscription (passes/orders.py)
            Checkout.channel == CheckoutFlow.REST,
            Checkout.paypal_subscription_id.is_not(None),
            Checkout.subscription_id.is_(None),
            Checkout.status.in_([CheckoutStatus.OPEN, CheckoutStatus.EXPIRED]),
            Checkout.created_at > now - CHECKOUT_WINDOW,
        )
    ).all()
    return [(str(sub_id), created) for sub_id, created in rows]


def _overdue_renewals(now: datetime) -> list[tuple[str, datetime]]:
    """Renewing REST subscriptions whose paid-through passed with no payment heard since;
    also those PayPal activated but whose first payment we never heard of."""
    late = now - timedelta(hours=float(current_app.config["PAYPAL_ASK_AFTER_HOURS"]))
    renewing = (SubscriptionState.ACTIVE, SubscriptionState.PENDING)
    rows = db.session.execute(
        select(Subscription.paypal_id, Subscription.paid_through, Subscription.created_at)
        .where(
            Subscription.paypal_id.like("I-%"),
            Subscription.state.in_(renewing),
            (
                (Subscription.paid_through < late)
                & (Subscription.paid_through > now - RENEWAL_WINDOW)
            )
            | (
                Subscription.paid_through.is_(None)
                & (Subscription.created_at < late)
                & (Subscription.created_at > now - RENEWAL_WINDOW)
            ),
        )
        .order_by(Subscription.paid_through)
    ).all()
    return [(str(pid), paid or created) for pid, paid, created in rows]
