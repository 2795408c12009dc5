"""Checkouts: the journal of open attempts to subscribe, and the Standard button fields."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from models import Checkout, Plan, User, db

from ..billing.rules.statuses import CheckoutStatus
from ..billing.rules.terms import AgreedTerms
from ..subscriptions import seats
from ..subscriptions.recorded_terms import checkout_offer, plan_terms


def open_checkout(user: User, plan: Plan, now: datetime) -> Checkout:
    """The member's open checkout for this plan, reused while it holds; else a new one.

    The database allows one open checkout per member and plan (a partial unique index),
    so two clicks at once still make one. For a plan with a seat limit the checkout holds
    a seat until it expires (a reused one keeps its seat); raises `seats.SoldOut` when no
    seat is free, and the caller rolls back.
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
    offer = plan_terms(plan).to_json()  # frozen: a later price change is not this offer
    current = _open(user, plan)
    if current is not None:
        current.expires_at, current.offered_terms = now + hold, offer
        seats.hold(current, now)
        return current
    checkout = Checkout(
        token=secrets.token_urlsafe(18),
        user_id=user.id,
        plan_id=plan.id,
        status=CheckoutStatus.OPEN,
        created_at=now,
        expires_at=now + hold,
        offered_terms=offer,
    )
    try:
        with db.session.begin_nested():
            db.session.add(checkout)
    except IntegrityError:  # a parallel request opened it first (and took its seat)
        existing = _open(user, plan)
        assert existing is not None  # the unique index refused ours because of it
        seats.hold(existing, now)
        return existing
    seats.hold(checkout, now)
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
    """A PayPal Standard subscribe button for the checkout's offer, carrying our token as
    `custom`. Everything in it can be tampered with: the signup is checked against the
    offer the checkout froze, not against these fields."""
    cfg = current_app.config
    offer = checkout_offer(checkout)
    fields = [
        ("cmd", "_xclick-subscriptions"),
        ("business", cfg["PAYPAL_BUSINESS"]),
        ("item_name", plan.name),
        ("item_number", plan.code),
        ("currency_code", offer.currency),
    ]
    fields += subscribe_terms(offer)
    fields += [
        ("sra", "1"),
        ("no_note", "1"),
        ("custom", checkout.token),
        ("charset", "utf-8"),
        ("notify_url", f"{public_url}/paypal/ipn"),
        ("return", f"{public_url}/checkout/return"),
        ("cancel_return", f"{public_url}/checkout/cancelled?cm={checkout.token}"),
        ("rm", "1"),
    ]
    return fields


def subscribe_terms(offer: AgreedTerms) -> list[tuple[str, str]]:
    """The button's terms: a1/p1/t1 and a2/p2/t2 for the trials (a1 0.00 when free),
    a3/p3/t3 for the regular payments, src=1 to renew and srt for how many times."""
    fields = []
    for n, (count, unit, price) in enumerate(offer.trials(), start=1):
        fields += [(f"a{n}", f"{price:.2f}"), (f"p{n}", str(count)), (f"t{n}", unit.value)]
    fields += [
        ("a3", f"{offer.price:.2f}"),
        ("p3", str(offer.period_count)),
        ("t3", offer.period_unit.value),
        ("src", "1"),
    ]
    if offer.cycles:
        fields.append(("srt", str(offer.cycles)))
    return fields


def own_checkout(token: str, user_id: int) -> Checkout | None:
    """The member's checkout with this token; another member's token finds nothing."""
    return db.session.scalar(
        select(Checkout).where(Checkout.token == token[:40], Checkout.user_id == user_id)
    )
