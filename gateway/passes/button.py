"""A PayPal Standard "Buy Now" button (`cmd=_xclick`) for a pass checkout."""

from __future__ import annotations

from flask import current_app

from models import Checkout

from ..subscriptions.recorded_terms import checkout_offer


def buy_now_fields(checkout: Checkout, public_url: str) -> list[tuple[str, str]]:
    """The button for the checkout's offer, our token as `custom`. Everything in it can be
    tampered with: the `web_accept` IPN's amount is checked against the offer the checkout
    froze (`pipeline.apply.amount_problem`), never against these fields."""
    offer = checkout_offer(checkout)
    plan = checkout.plan
    return [
        ("cmd", "_xclick"),
        ("business", current_app.config["PAYPAL_BUSINESS"]),
        ("item_name", plan.name),
        ("item_number", plan.code),
        ("amount", f"{offer.price:.2f}"),
        ("currency_code", offer.currency),
        ("quantity", "1"),
        ("no_shipping", "1"),
        ("no_note", "1"),
        ("custom", checkout.token),
        ("charset", "utf-8"),
        ("notify_url", f"{public_url}/paypal/ipn"),
        ("return", f"{public_url}/checkout/return?cm={checkout.token}"),
        ("cancel_return", f"{public_url}/checkout/cancelled?cm={checkout.token}"),
        ("rm", "1"),
    ]
