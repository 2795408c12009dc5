"""What the gateway learnt by asking PayPal's Subscriptions API itself (channel `api`), pure.

One stored document per answer, canonical JSON (sorted keys, no spaces, ASCII):

    {"asked_at": "2026-01-15T12:00:00Z", "kind": "subscription", "subscription": {...}}
    {"asked_at": "...", "kind": "transaction", "subscription": {...}, "transaction": {...}}

`subscription` is GET /v1/billing/subscriptions/{id} as PayPal answered it; `transaction`
is one item of GET /v1/billing/subscriptions/{id}/transactions, stored with its
subscription because the item names neither the subscription nor the member. `asked_at`
is when we asked (RFC 3339, UTC).

The facts and keys are those of the webhook events (both read a subscription's change
with `subscription_changes.py`), so the same change learnt both ways is one fact.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..rules.facts import Fact, FactKind
from ..rules.interpretation import Interpretation, Money, PaymentInfo
from .names import payer_name
from .orders import read_order
from .paypal_json import Json, date_warnings, load_object, parse_rfc3339, rfc3339
from .subscription_changes import subscription_change, subscription_fields

#: PayPal's subscription status -> the change it reports (as the webhook events name it).
STATUS_CHANGES = {
    "APPROVAL_PENDING": "noted",
    "APPROVED": "noted",
    "ACTIVE": "activated",
    "SUSPENDED": "suspended",
    "CANCELLED": "cancelled",
    "EXPIRED": "expired",
}
#: Transactions that were completed payments first (refunds are learnt elsewhere).
PAID = {"COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED"}
#: Transactions that did not pay (`FAILED` is in PayPal's capture statuses too).
NOT_PAID = {"DECLINED", "FAILED"}


def subscription_document(subscription: dict[str, Any], asked_at: datetime) -> bytes:
    """The document to store for a subscription PayPal described."""
    return _document({"kind": "subscription", "subscription": subscription}, asked_at)


def transaction_document(
    subscription: dict[str, Any], transaction: dict[str, Any], asked_at: datetime
) -> bytes:
    """The document to store for one transaction of a subscription."""
    return _document(
        {"kind": "transaction", "subscription": subscription, "transaction": transaction},
        asked_at,
    )


def order_document(order: dict[str, Any], asked_at: datetime) -> bytes:
    """The document to store for an order PayPal described (GET or capture answer)."""
    return _document({"kind": "order", "order": order}, asked_at)


def _document(parts: dict[str, Any], asked_at: datetime) -> bytes:
    for name in ("subscription", "transaction", "order"):
        if name in parts and not isinstance(parts[name], dict):
            raise TypeError(f"{name} must be PayPal's JSON object")
    doc = {**parts, "asked_at": rfc3339(asked_at)}
    return json.dumps(
        doc, sort_keys=True, separators=(",", ":"), allow_nan=False, default=_decimal_text
    ).encode("ascii")


def _decimal_text(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def interpret_api(body: bytes, received_at: datetime) -> Interpretation:
    """The API channel's *interpret*: a stored document -> a channel-neutral reading.

    Never raises on bad input: what cannot be read is said in `error`. The answer came
    from PayPal over TLS to us, so `receiver` and `is_test` stay None.
    """
    try:
        doc = Json(load_object(body))
        kind = doc.text("kind")
    except ValueError as e:
        return Interpretation(summary="unreadable", error=f"cannot read the answer: {e}")
    base = Interpretation(summary="", event=f"api {kind}"[:64] if kind else "")
    try:
        return _read(doc, kind, base, received_at)
    except ValueError as e:
        return replace(base, summary="unreadable", error=f"cannot read the answer: {e}")


def _read(doc: Json, kind: str, base: Interpretation, received_at: datetime) -> Interpretation:
    if kind == "order":  # Orders v2: what we asked (or captured) on a buyer's return
        return read_order(doc.obj("order"), base, received_at)
    if kind not in ("subscription", "transaction"):
        raise ValueError(f"not a subscription or transaction answer (kind {kind!r})")
    asked_at = parse_rfc3339(doc.raw("asked_at"))
    if asked_at is None:
        raise ValueError("the answer says not when it was asked")
    sub = doc.obj("subscription")
    fields = subscription_fields(sub)
    if not fields["subscription_ref"]:
        raise ValueError("the subscription has no id")
    base = replace(base, **fields)
    if kind == "transaction":
        return _transaction(doc.obj("transaction"), base, received_at)
    status = fields["status"].upper()
    change = STATUS_CHANGES.get(status, "noted")
    fallback = f"asked:{rfc3339(asked_at)}"
    summary, facts, warnings = subscription_change(change, sub, received_at, fallback)
    return replace(
        base,
        summary=f"asked PayPal: {summary}",
        facts=tuple(facts),
        warnings=tuple(warnings) + date_warnings(sub.unreadable),
    )


def _transaction(txn: Json, base: Interpretation, received_at: datetime) -> Interpretation:
    """One payment of the subscription, keyed as the webhook's PAYMENT.SALE.* would be."""
    txn_id, status = txn.ident("id"), txn.text("status").upper()
    if not txn_id:
        raise ValueError("the transaction has no id")
    gross = txn.amount("amount_with_breakdown.gross_amount.value")
    currency = txn.text("amount_with_breakdown.gross_amount.currency_code")
    fee = txn.amount("amount_with_breakdown.fee_amount.value")
    reported_tax = txn.amount("amount_with_breakdown.tax_amount.value")
    tax = reported_tax or Decimal(0)
    base = replace(
        base,
        txn_id=txn_id,
        status=status,
        payer_email=base.payer_email or txn.text("payer_email"),
        payer_name=payer_name(txn.text("payer_name.given_name"), txn.text("payer_name.surname"))
        or base.payer_name,
        money=Money(gross, currency, tax, fee),
    )
    if status not in PAID and status not in NOT_PAID:
        return replace(base, summary=f"asked PayPal: payment {txn_id} {status or 'none'}: noted")
    if gross is None:
        raise ValueError(f"transaction {txn_id} names no amount")
    at = txn.time("time") or received_at
    if status in NOT_PAID:
        fact = Fact(
            FactKind.PAYMENT_FAILED, at, key=f"{txn_id}:Denied", txn_id=txn_id, amount=gross
        )
        return replace(
            base,
            summary=f"asked PayPal: payment {txn_id} {status.lower()}",
            facts=(fact,),
            warnings=date_warnings(txn.unreadable),
        )
    fact = Fact(
        FactKind.PAYMENT_COMPLETED, at, key=f"{txn_id}:Completed", txn_id=txn_id, amount=gross
    )
    warnings: tuple[str, ...] = ()
    if status != "COMPLETED":
        warnings = (
            f"PayPal reports payment {txn_id} {status.lower().replace('_', ' ')}; the API "
            "gives no refund amount, so the refund itself is expected by webhook, IPN or "
            "reconciliation",
        )
    return replace(
        base,
        summary=f"asked PayPal: payment {txn_id} Completed {gross} {currency}"
        + (f" (now {status.lower()})" if status != "COMPLETED" else ""),
        facts=(fact,),
        payment=PaymentInfo(txn_id, "Completed", gross, currency, fee, at, reported_tax),
        warnings=warnings + date_warnings(txn.unreadable),
    )
