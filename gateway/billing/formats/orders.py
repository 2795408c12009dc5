"""Orders v2 (one-time purchases), pure: a capture's webhooks (`PAYMENT.CAPTURE.*`) and an
order as PayPal's API answers it (GET /v2/checkout/orders/{id}, or the capture's answer).

Shapes as PayPal publishes them (Orders v2 / Payments v2): a capture has `id`, `status`
(COMPLETED, PENDING, DECLINED, FAILED, REFUNDED, PARTIALLY_REFUNDED), `amount`
{currency_code, value}, `custom_id`, `seller_receivable_breakdown.paypal_fee`,
`supplementary_data.related_ids.order_id` and an `up` link to its order; a refund (the
resource of PAYMENT.CAPTURE.REFUNDED and .REVERSED) has its own `id`, `amount` and an `up`
link to the capture it takes back. Keys match the IPN's (`<txn>:Completed`, a refund's
`<refund id>:Refunded`), so one payment reported by webhook, API and IPN is one fact.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from ..rules.facts import Fact, FactKind
from ..rules.interpretation import Interpretation, Money, PaymentInfo, Receiver
from .names import payer_name
from .paypal_json import MAX_ID, Json, date_warnings

CAPTURE_EVENTS = {
    "PAYMENT.CAPTURE.COMPLETED",
    "PAYMENT.CAPTURE.PENDING",
    "PAYMENT.CAPTURE.DENIED",
    "PAYMENT.CAPTURE.REFUNDED",
    "PAYMENT.CAPTURE.REVERSED",
}
CAPTURE_LINK_RE = re.compile(r"/v2/payments/captures/([A-Za-z0-9-]+)/?\Z")
ORDER_LINK_RE = re.compile(r"/v2/checkout/orders/([A-Za-z0-9-]+)/?\Z")
#: A capture's status -> (the IPN word for it, the fact it is).
CAPTURED = {
    "COMPLETED": ("Completed", FactKind.PAYMENT_COMPLETED),
    # Captured first, refunded since: still a payment (the refund is its own message).
    "PARTIALLY_REFUNDED": ("Completed", FactKind.PAYMENT_COMPLETED),
    "REFUNDED": ("Completed", FactKind.PAYMENT_COMPLETED),
    "PENDING": ("Pending", FactKind.PAYMENT_PENDING),
    "DECLINED": ("Denied", FactKind.PAYMENT_FAILED),
    "FAILED": ("Denied", FactKind.PAYMENT_FAILED),
}


def capture_event(
    kind: str, res: Json, base: Interpretation, received_at: datetime
) -> Interpretation:
    """A PAYMENT.CAPTURE.* webhook's resource read into an interpretation."""
    if kind in ("PAYMENT.CAPTURE.REFUNDED", "PAYMENT.CAPTURE.REVERSED"):
        return _money_back(kind, res, base, received_at)
    order_id = res.ident("supplementary_data.related_ids.order_id") or _linked(
        res, "up", ORDER_LINK_RE
    )
    return read_capture(res, base, order_id, res.text("custom_id"), received_at)


def read_capture(
    cap: Json, base: Interpretation, order_id: str, custom_id: str, received_at: datetime
) -> Interpretation:
    """One capture of an order: a payment (completed, pending or declined) buying a pass."""
    capture_id, status = cap.ident("id"), cap.text("status").upper()
    if not capture_id:
        raise ValueError("the capture has no id")
    gross, currency = cap.amount("amount.value"), cap.text("amount.currency_code")
    fee = cap.amount("seller_receivable_breakdown.paypal_fee.value")
    base = replace(
        base,
        txn_id=capture_id,
        status=status,
        one_time=True,
        subscription_ref=order_id or capture_id,
        member_token=custom_id or base.member_token,
        money=Money(gross, currency, Decimal(0), fee),
        warnings=base.warnings + date_warnings(cap.unreadable),
    )
    if status not in CAPTURED:
        return replace(base, summary=f"capture {capture_id} {status or 'without a status'}: noted")
    word, fact_kind = CAPTURED[status]
    if gross is None:
        raise ValueError(f"capture {capture_id} names no amount")
    at = cap.time("create_time", "update_time") or received_at
    fact = Fact(fact_kind, at, key=f"{capture_id}:{word}", txn_id=capture_id, amount=gross)
    payment = None
    if fact_kind is not FactKind.PAYMENT_FAILED:
        payment = PaymentInfo(capture_id, word, gross, currency, fee, at, None)
    return replace(
        base,
        summary=f"capture {capture_id} {word} {gross} {currency}",
        facts=(fact,),
        payment=payment,
        warnings=base.warnings + date_warnings(cap.unreadable),
    )


def _money_back(
    kind: str, res: Json, base: Interpretation, received_at: datetime
) -> Interpretation:
    """A refund (or a reversal) names the capture it takes back in its `up` link; a
    reversal reported as the capture itself (status REVERSED) is its own parent."""
    own_id, status = res.ident("id"), res.text("status").upper()
    if not own_id:
        raise ValueError("the refund has no id")
    word = "Refunded" if kind == "PAYMENT.CAPTURE.REFUNDED" else "Reversed"
    capture = _linked(res, "up", CAPTURE_LINK_RE) or (own_id if status == "REVERSED" else "")
    if not capture:
        raise ValueError(f"the {word.lower()} transaction {own_id} names no capture it takes back")
    total, currency = res.amount("amount.value"), res.text("amount.currency_code")
    if word == "Refunded" and total is None:
        raise ValueError(f"refund {own_id} names no amount")
    amount = abs(total) if total is not None else None
    at = res.time("create_time", "update_time") or received_at
    fact_kind = FactKind.REFUNDED if word == "Refunded" else FactKind.REVERSED
    # A reversal takes the whole capture back (as the IPN's Reversed does): no amount.
    fact = Fact(
        fact_kind,
        at,
        key=f"{own_id}:{word}",
        txn_id=capture,
        amount=amount if word == "Refunded" else None,
    )
    return replace(
        base,
        summary=f"{word} {amount if amount is not None else ''} {currency} of payment {capture}",
        txn_id=own_id,
        status=status,
        parent_txn_id=capture,
        facts=(fact,),
        money=Money(-amount if amount is not None else None, currency),
        warnings=date_warnings(res.unreadable),
    )


def read_order(order: Json, base: Interpretation, received_at: datetime) -> Interpretation:
    """An order as PayPal's API answered it: its first purchase unit's capture, if any.
    The payee is the receiver (checked like an IPN's); an order not yet captured is noted."""
    order_id = order.ident("id")
    if not order_id:
        raise ValueError("the order has no id")
    unit = next(iter(order.items("purchase_units")), Json({}, order.unreadable))
    base = replace(
        base,
        one_time=True,
        subscription_ref=order_id,
        member_token=unit.text("custom_id"),
        payer_email=order.text("payer.email_address"),
        payer_name=payer_name(
            order.text("payer.name.given_name"), order.text("payer.name.surname")
        ),
        receiver=_payee(unit),
    )
    captures = unit.items("payments.captures")
    if not captures:
        status = order.text("status") or "without a status"
        return replace(base, summary=f"order {order_id} {status}: not captured", status=status)
    return read_capture(captures[0], base, order_id, unit.text("custom_id"), received_at)


def _payee(unit: Json) -> Receiver | None:
    """Whom the order pays; None when it names no payee: then it pays the API caller, us."""
    email, merchant = unit.text("payee.email_address"), unit.ident("payee.merchant_id")
    return Receiver((email,), merchant) if email or merchant else None


def _linked(res: Json, rel: str, pattern: re.Pattern[str]) -> str:
    for link in res.items("links"):
        if link.text("rel") == rel and (m := pattern.search(link.text("href"))):
            return m.group(1)[:MAX_ID]
    return ""
