"""REST webhook events, pure: each subscription or sale event read into an interpretation.

The twin of `ipn.py` (docs/paypal.md §8). Keys are chosen so that the same change reported by a
webhook and by the Subscriptions API (`api_answers.py`, through `subscription_changes.py`)
is one fact, and a cancellation one fact with IPN's.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from ..rules.facts import Fact, FactKind
from ..rules.interpretation import Interpretation, Money, PaymentInfo
from .orders import CAPTURE_EVENTS, capture_event
from .paypal_json import MAX_ID, Json, date_warnings, load_object
from .subscription_changes import subscription_change, subscription_fields

SALE_LINK_RE = re.compile(r"/v1/payments/sale/([A-Za-z0-9-]+)/?\Z")

SUBSCRIPTION_EVENTS = {
    "BILLING.SUBSCRIPTION.CREATED": "noted",
    "BILLING.SUBSCRIPTION.UPDATED": "noted",
    "BILLING.SUBSCRIPTION.ACTIVATED": "activated",
    "BILLING.SUBSCRIPTION.RE-ACTIVATED": "reactivated",
    "BILLING.SUBSCRIPTION.SUSPENDED": "suspended",
    "BILLING.SUBSCRIPTION.CANCELLED": "cancelled",
    "BILLING.SUBSCRIPTION.EXPIRED": "expired",
    "BILLING.SUBSCRIPTION.PAYMENT.FAILED": "failed",
}
SALE_EVENTS = {
    "PAYMENT.SALE.COMPLETED",
    "PAYMENT.SALE.PENDING",
    "PAYMENT.SALE.DENIED",
    "PAYMENT.SALE.REFUNDED",
    "PAYMENT.SALE.REVERSED",
}


def event_id(body: bytes) -> str:
    """The event's own id (`WH-...`, the same on every re-delivery); "" if unreadable."""
    try:
        value = load_object(body).get("id")
    except ValueError:
        return ""
    return value.strip()[:MAX_ID] if isinstance(value, str) else ""


def interpret_event(body: bytes, received_at: datetime) -> Interpretation:
    """The webhook channel's *interpret*: raw bytes as stored -> a channel-neutral reading.

    Never raises on bad input: what cannot be read is said in `error`. The signature proves
    who sent it and from which environment, so `receiver` and `is_test` stay None.
    """
    try:
        event = Json(load_object(body))
        base = Interpretation(summary="", event=event.text("event_type")[:64])
    except ValueError as e:
        return Interpretation(summary="unreadable", error=f"cannot read the event: {e}")
    try:
        return _read(event, base, received_at)
    except ValueError as e:
        return replace(base, summary="unreadable", error=f"cannot read the event: {e}")


def _read(event: Json, base: Interpretation, received_at: datetime) -> Interpretation:
    kind = base.event
    if not kind:
        raise ValueError("the event names no event_type")
    if kind in CAPTURE_EVENTS:  # Orders v2: a pass bought once (docs/passes.md)
        resource = event.obj("resource")
        if not resource.data:
            raise ValueError("the event has no resource")
        return capture_event(kind, resource, base, received_at)
    if kind not in SALE_EVENTS and not kind.startswith("BILLING.SUBSCRIPTION."):
        return replace(
            base, summary=f"{kind}: about another product; stored and ignored", relevant=False
        )
    resource = event.obj("resource")
    if not resource.data:
        raise ValueError("the event has no resource")
    if kind in SALE_EVENTS:
        return _sale(kind, resource, base, received_at)
    fields = subscription_fields(resource)
    if not fields["subscription_ref"]:
        raise ValueError("the subscription has no id")
    fallback = f"event:{event.ident('id')}"
    change = SUBSCRIPTION_EVENTS.get(kind, "noted")
    if change == "failed":
        summary, facts, warnings = _failed(resource, event, received_at, fallback)
    else:
        summary, facts, warnings = subscription_change(change, resource, received_at, fallback)
    return replace(
        base,
        summary=summary,
        facts=tuple(facts),
        warnings=tuple(warnings) + date_warnings(resource.unreadable),
        **fields,
    )


def _failed(
    sub: Json, event: Json, received_at: datetime, fallback: str
) -> tuple[str, list[Fact], list[str]]:
    """A renewal failed: dated by `billing_info.last_failed_payment.time`, else by when
    PayPal sent the event. Not by the subscription's `update_time`: PayPal's own sample
    leaves it weeks before the failure, and one date for every retry would make them one."""
    failed = sub.obj("billing_info.last_failed_payment")
    at = failed.time("time") or event.time("create_time") or received_at
    key = f"failed:{failed.stamp('time') or event.stamp('create_time') or fallback}"
    return "renewal payment failed", [Fact(FactKind.PAYMENT_FAILED, at, key=key)], []


def _sale(kind: str, res: Json, base: Interpretation, received_at: datetime) -> Interpretation:
    """PAYMENT.SALE.*: a sale (COMPLETED, PENDING, DENIED), a refund or a reversal."""
    own_id, state = res.ident("id"), res.text("state")
    if not own_id:
        raise ValueError("the sale has no id")
    agreement = res.ident("billing_agreement_id")
    base = replace(base, txn_id=own_id, status=state, subscription_ref=agreement)
    if not agreement and kind not in ("PAYMENT.SALE.REFUNDED", "PAYMENT.SALE.REVERSED"):
        return replace(
            base,
            summary=f"sale {own_id} is a one-off payment (no billing agreement): about "
            "another product; stored and ignored",
            relevant=False,
        )
    # `custom` is the subscription's custom_id in the stand-in's sales; real ones often
    # carry none (the subscription events have it).
    base = replace(base, member_token=res.text("custom"))
    if kind in ("PAYMENT.SALE.REFUNDED", "PAYMENT.SALE.REVERSED"):
        return _money_back(kind, own_id, state, res, base, received_at)
    total, currency = res.amount("amount.total"), res.text("amount.currency")
    if kind == "PAYMENT.SALE.DENIED":
        at = res.time("update_time", "create_time") or received_at
        fact = Fact(
            FactKind.PAYMENT_FAILED, at, key=f"{own_id}:Denied", txn_id=own_id, amount=total
        )
        return replace(
            base,
            summary=f"payment {own_id} denied",
            facts=(fact,),
            warnings=date_warnings(res.unreadable),
        )
    status = "Completed" if kind == "PAYMENT.SALE.COMPLETED" else "Pending"
    if state.lower() != status.lower():
        return replace(base, summary=f"{kind} for a sale in state {state or 'none'}: noted")
    if total is None:
        raise ValueError("the sale names no amount")
    fee, tax = res.amount("transaction_fee.value"), res.amount("amount.details.tax")
    at = res.time("create_time") or received_at
    kind_of = FactKind.PAYMENT_COMPLETED if status == "Completed" else FactKind.PAYMENT_PENDING
    fact = Fact(kind_of, at, key=f"{own_id}:{status}", txn_id=own_id, amount=total)
    return replace(
        base,
        summary=f"payment {own_id} {status} {total} {currency}",
        facts=(fact,),
        payment=PaymentInfo(own_id, status, total, currency, fee, at, tax),
        money=Money(total, currency, tax or Decimal(0), fee),
        warnings=date_warnings(res.unreadable),
    )


def _money_back(
    kind: str, own_id: str, state: str, res: Json, base: Interpretation, received_at: datetime
) -> Interpretation:
    """A refund names its sale in `sale_id` (and a `sale` link). A reversal may be the sale
    itself in state `reversed`; PayPal's own sample reversal names no sale at all: then an
    admin must match it (`parent_payment` is the PAY- payment, never a sale)."""
    sale = res.ident("sale_id") or _linked_sale(res)
    if not sale and state.lower() == "reversed":
        sale = own_id
    word = "Refunded" if kind == "PAYMENT.SALE.REFUNDED" else "Reversed"
    if not sale:
        raise ValueError(f"the {word.lower()} transaction {own_id} names no sale it takes back")
    total, currency = res.amount("amount.total"), res.text("amount.currency")
    if word == "Refunded" and total is None:
        raise ValueError(f"refund {own_id} names no amount")
    amount = abs(total) if total is not None else None
    at = res.time("create_time", "update_time") or received_at
    fact_kind = FactKind.REFUNDED if word == "Refunded" else FactKind.REVERSED
    fact = Fact(fact_kind, at, key=f"{own_id}:{word}", txn_id=sale, amount=amount)
    return replace(
        base,
        summary=f"{word} {amount if amount is not None else ''} {currency} of payment {sale}",
        parent_txn_id=sale,
        facts=(fact,),
        # Money leaving the merchant is negative, as IPN reports it; no PaymentInfo (IPN
        # records none for money back either: the payment's row is the parent's).
        money=Money(-amount if amount is not None else None, currency),
        warnings=date_warnings(res.unreadable),
    )


def _linked_sale(res: Json) -> str:
    for link in res.items("links"):
        if link.text("rel") == "sale" and (m := SALE_LINK_RE.search(link.text("href"))):
            return m.group(1)[:MAX_ID]
    return ""
