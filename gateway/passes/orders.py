"""Orders v2 for passes: we create the order at PayPal (intent CAPTURE, our checkout token
as `custom_id`, the amount and payee of the checkout's offer), the buyer approves it there,
PayPal sends the browser back, and we check the order with PayPal before we capture it.

The return's order id is only a hint: the order must be PayPal's, APPROVED (or already
COMPLETED by an earlier return), carry this checkout's token, our payee, the offered
amount and currency; and a checkout claims one order only (`checkouts.paypal_subscription_id`
is unique). What the capture answers is stored as an `api` notification and applied by the
pipeline like any message, so the webhook that follows is the same fact.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from models import Checkout, Plan, db

from ..billing.formats.api_answers import order_document
from ..billing.rules.statuses import Channel, CheckoutFlow, CheckoutStatus, PlanKind
from ..checkout.rest import Refused, Unavailable, claim
from ..paypal.api import ApiError, PayPalApi, api_client
from ..pipeline import intake
from ..pipeline.worker import process_one
from ..records.flags import raise_flag
from ..subscriptions.recorded_terms import checkout_offer

#: Order statuses after the buyer's approval: APPROVED, or COMPLETED once captured.
CAPTURABLE, CAPTURED = "APPROVED", "COMPLETED"
#: How long after its checkout opened an order is followed up by the ask-PayPal job.
FOLLOW_UP_WINDOW = timedelta(days=3)


def uses_orders() -> bool:
    """Passes are sold through Orders v2 when the REST API is configured (PASS_CHECKOUT
    "auto"), or always / never ("orders" / "standard")."""
    choice = str(current_app.config.get("PASS_CHECKOUT", "auto"))
    if choice == "standard":
        return False
    return choice == "orders" or api_client().configured


def begin(checkout: Checkout, public_url: str) -> str:
    """Create the checkout's order at PayPal (once: a retry with the same request id gets
    the same order back) and return its approve link."""
    api = api_client()
    offer = checkout_offer(checkout)
    cfg = current_app.config
    payee = {"email_address": cfg["PAYPAL_BUSINESS"]} if cfg["PAYPAL_BUSINESS"] else {}
    answer = api.call(
        "POST",
        "/v2/checkout/orders",
        json={
            "intent": "CAPTURE",
            "purchase_units": [
                {
                    "reference_id": checkout.plan.code,
                    "description": checkout.plan.name[:127],
                    "custom_id": checkout.token,
                    "amount": {"currency_code": offer.currency, "value": f"{offer.price:.2f}"},
                    **({"payee": payee} if payee else {}),
                }
            ],
            "application_context": {
                "return_url": f"{public_url}/passes/return?cm={checkout.token}",
                "cancel_url": f"{public_url}/checkout/cancelled?cm={checkout.token}",
                "user_action": "PAY_NOW",
                "shipping_preference": "NO_SHIPPING",
                "brand_name": str(cfg.get("RECEIPT_SELLER_NAME") or "")[:127] or None,
            },
        },
        request_id=f"tollgate-order-{checkout.token}-{int(checkout.expires_at.timestamp())}",
    )
    approve = _link(answer, "approve") or _link(answer, "payer-action")
    if not answer.get("id") or not approve:
        raise ApiError("PayPal's answer has no order id or approve link")
    checkout.channel = CheckoutFlow.REST
    return approve


def confirm(checkout: Checkout, order_id: str, now: datetime) -> None:
    """Check a returned order with PayPal, claim it for this checkout, capture it and apply
    PayPal's answer. Raises Refused (flagged) or Unavailable. Safe to call again."""
    api = api_client()
    try:
        order = _checked(api, checkout, order_id)
        claim(checkout, order_id, "order")
    except Refused as e:
        db.session.rollback()
        raise_flag(
            "return",
            f"checkout {checkout.token} (member {checkout.user_id}, plan "
            f"{checkout.plan.code}): returned with order {order_id[:70]!r}: {e}",
            now,
        )
        checkout.problem = e.member_message
        db.session.commit()
        raise
    capture_and_apply(api, checkout, order, now)


def capture_and_apply(
    api: PayPalApi, checkout: Checkout, order: dict[str, Any], now: datetime
) -> None:
    """Capture a checked, claimed order if it still waits (the same request id: PayPal
    captures once however often we ask), then store PayPal's answer and apply it."""
    order_id = str(order.get("id", ""))
    if order.get("status") == CAPTURABLE:
        try:
            order = api.call(
                "POST",
                f"/v2/checkout/orders/{_safe(order_id)}/capture",
                json={},
                request_id=f"tollgate-capture-{order_id}",
            )
        except ApiError as e:  # the webhook, the buyer's next return or the job tell us
            current_app.logger.warning("capturing order %s failed: %s", order_id, e)
            raise Unavailable(e.for_admin()) from e
    note_id = intake.store(
        Channel.API,
        order_document(order, now),
        {},
        None,
        now,
        event_id=f"order:{order_id}:{order.get('status')}"[:128],
    )
    db.session.commit()
    process_one(note_id)  # apply now, so the member's waiting page opens at once


def follow_up(now: datetime, limit: int = 50) -> tuple[int, list[str]]:
    """The ask-PayPal job's part for passes: orders a member returned with and we claimed,
    but whose capture we never applied (PayPal did not answer the capture, or its answer
    was lost). Asks PayPal, captures what still waits, applies. Returns (orders settled,
    errors)."""
    api = api_client()
    waiting = db.session.scalars(
        select(Checkout)
        .join(Plan, Plan.id == Checkout.plan_id)
        .where(
            Plan.kind == PlanKind.PASS,
            Checkout.channel == CheckoutFlow.REST,
            Checkout.paypal_subscription_id.is_not(None),
            Checkout.subscription_id.is_(None),
            Checkout.status.in_([CheckoutStatus.OPEN, CheckoutStatus.EXPIRED]),
            Checkout.created_at > now - FOLLOW_UP_WINDOW,
        )
        .order_by(Checkout.id)
        .limit(limit)
    ).all()
    settled, errors = 0, []
    for checkout in waiting:
        order_id = str(checkout.paypal_subscription_id)
        try:
            order = api.call("GET", f"/v2/checkout/orders/{_safe(order_id)}")
            problems = order_problems(order, checkout, current_app.config)
            if problems:  # checked on the return; changed since (voided, expired): nothing
                errors.append(f"order {order_id}: {'; '.join(problems)}")
                continue
            capture_and_apply(api, checkout, order, now)
            settled += 1
        except (ApiError, Unavailable) as e:
            db.session.rollback()
            errors.append(f"order {order_id}: {e}")
    return settled, errors


def _checked(api: PayPalApi, checkout: Checkout, order_id: str) -> dict[str, Any]:
    """PayPal's order, if it is this checkout's and what it offered; else Refused."""
    if checkout.paypal_subscription_id and checkout.paypal_subscription_id != order_id:
        claimed = checkout.paypal_subscription_id
        raise Refused(f"this checkout belongs to order {claimed}, not the one returned")
    if not order_id or not order_id.isalnum() or len(order_id) > 64:
        raise Refused("the return names no order")
    try:
        order = api.call("GET", f"/v2/checkout/orders/{order_id}")
    except ApiError as e:
        if e.retryable:
            raise Unavailable(e.for_admin()) from e
        raise Refused(f"PayPal: {e.for_admin()}") from e
    problems = order_problems(order, checkout, current_app.config)
    if problems:
        raise Refused("; ".join(problems))
    return order


def order_problems(order: dict[str, Any], checkout: Checkout, cfg: Any) -> list[str]:
    """Each way PayPal's order differs from what this checkout offered, in words."""
    offer = checkout_offer(checkout)
    units = order.get("purchase_units") or [{}]
    unit = units[0] if isinstance(units[0], dict) else {}
    amount = unit.get("amount") or {}
    payee = unit.get("payee") or {}
    problems = []
    if order.get("status") not in (CAPTURABLE, CAPTURED):
        problems.append(f"status {order.get('status') or 'none'}, not APPROVED or COMPLETED")
    if order.get("intent") != "CAPTURE":
        problems.append(f"intent {order.get('intent')!r}, not CAPTURE")
    if len(units) != 1:
        problems.append(f"{len(units)} purchase units, not one")
    if unit.get("custom_id") != checkout.token:
        problems.append("custom_id is not this checkout's token (another checkout's order)")
    if (amount.get("currency_code"), amount.get("value")) != (offer.currency, f"{offer.price:.2f}"):
        problems.append(
            f"amount {amount.get('value')} {amount.get('currency_code')}, not the offered "
            f"{offer.price:.2f} {offer.currency}"
        )
    ours = {e.lower() for e in (cfg["PAYPAL_BUSINESS"], *cfg["PAYPAL_RECEIVER_EMAILS"]) if e}
    ids = {i for i in (cfg["PAYPAL_RECEIVER_ID"], *cfg["PAYPAL_RECEIVER_IDS"]) if i}
    named = str(payee.get("email_address", "")).lower(), str(payee.get("merchant_id", ""))
    if (named[0] or named[1]) and named[0] not in ours and named[1] not in ids:
        problems.append(f"payee {named[0] or named[1]!r} is not us")
    return problems


def _link(answer: dict[str, Any], rel: str) -> str:
    for link in answer.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == rel:
            return str(link.get("href", ""))
    return ""


def _safe(order_id: str) -> str:
    return order_id if order_id.isalnum() else ""
