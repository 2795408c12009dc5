"""Checkouts: the journal of open attempts to subscribe, and the Standard button fields."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from models import Checkout, Plan, User, db

from .billing.statuses import CheckoutStatus


def open_checkout(user: User, plan: Plan, now: datetime) -> Checkout:
    """The member's open checkout for this plan, reused while it holds; else a new one.

    The database allows one open checkout per member and plan (a partial unique index),
    so two clicks at once still make one.
    """
    hold = timedelta(minutes=int(current_app.config["CHECKOUT_HOLD_MINUTES"]))
    db.session.execute(
        update(Checkout)
        .where(
            Checkout.user_id == user.id,
            Checkout.plan_id == plan.id,
            Checkout.status == CheckoutStatus.OPEN,
            Checkout.expires_at <= now,
        )
        .values(status=CheckoutStatus.EXPIRED)
    )
    current = _open(user, plan)
    if current is not None:
        current.expires_at = now + hold
        return current
    checkout = Checkout(
        token=secrets.token_urlsafe(18),
        user_id=user.id,
        plan_id=plan.id,
        status=CheckoutStatus.OPEN,
        created_at=now,
        expires_at=now + hold,
    )
    try:
        with db.session.begin_nested():
            db.session.add(checkout)
    except IntegrityError:  # a parallel request opened it first
        existing = _open(user, plan)
        assert existing is not None  # the unique index refused ours because of it
        return existing
    return checkout


def _open(user: User, plan: Plan) -> Checkout | None:
    return db.session.scalar(
        select(Checkout).where(
            Checkout.user_id == user.id,
            Checkout.plan_id == plan.id,
            Checkout.status == CheckoutStatus.OPEN,
        )
    )


def button_fields(checkout: Checkout, plan: Plan, public_url: str) -> list[tuple[str, str]]:
    """A PayPal Standard subscribe button for `plan`, carrying our token as `custom`."""
    cfg = current_app.config
    fields = [
        ("cmd", "_xclick-subscriptions"),
        ("business", cfg["PAYPAL_BUSINESS"]),
        ("item_name", plan.name),
        ("item_number", plan.code),
        ("currency_code", plan.currency),
    ]
    if plan.trial_count and plan.trial_unit:
        fields += [("a1", "0.00"), ("p1", str(plan.trial_count)), ("t1", plan.trial_unit)]
    fields += [
        ("a3", f"{plan.price:.2f}"),
        ("p3", str(plan.period_count)),
        ("t3", plan.period_unit),
        ("src", "1"),
        ("sra", "1"),
        ("no_note", "1"),
        ("custom", checkout.token),
        ("charset", "utf-8"),
        ("notify_url", f"{public_url}/paypal/ipn"),
        ("return", f"{public_url}/checkout/return"),
        ("cancel_return", f"{public_url}/plans"),
        ("rm", "1"),
    ]
    return fields
