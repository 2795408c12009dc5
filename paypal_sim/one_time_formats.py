"""Wire shapes of one-time purchases: the `web_accept` IPN (and its refund, reversal and
cancelled reversal), and Orders v2 / Payments v2 JSON (an order, a capture, a refund)."""

from __future__ import annotations

from typing import Any

from .formats import ipn_date, money, new_id, rfc3339
from .ipn_messages import Fields, payer_fields, receiver_fields, tail_fields
from .state import Account, Purchase, Transaction

REASON = {"Refunded": "refund", "Reversed": "chargeback", "Canceled_Reversal": "other"}


def web_accept(acct: Account, p: Purchase, txn: Transaction) -> Fields:
    """A Buy Now payment (`web_accept`), or an Orders capture by IPN (`express_checkout`)."""
    fields: Fields = [
        ("transaction_subject", p.custom),
        ("payment_date", ipn_date(txn.time)),
        ("txn_type", "web_accept" if p.style == "buynow" else "express_checkout"),
        ("custom", p.custom),
        ("item_name", p.item_name),
        ("item_number", p.item_number),
        ("quantity", str(p.quantity)),
        ("mc_gross", money(txn.amount)),
        ("mc_fee", money(txn.fee)),
        ("tax", "0.00"),
        ("shipping", "0.00"),
        ("handling_amount", "0.00"),
        ("mc_currency", txn.currency),
        ("payment_type", "instant" if txn.status != "Pending" else "echeck"),
        ("payment_status", txn.status),
        ("protection_eligibility", "Eligible"),
        ("txn_id", txn.id),
    ]
    if txn.currency == "USD":
        fields += [("payment_gross", money(txn.amount)), ("payment_fee", money(txn.fee))]
    if txn.status == "Pending":
        fields.append(("pending_reason", "echeck"))
    return fields + payer_fields(p) + receiver_fields(acct) + tail_fields(acct)


def money_back(acct: Account, p: Purchase, txn: Transaction) -> Fields:
    """Refunded / Reversed / Canceled_Reversal of a one-time payment: like PayPal's, they
    name the payment in `parent_txn_id`, with the button's item and custom."""
    fields: Fields = [
        ("payment_date", ipn_date(txn.time)),
        ("custom", p.custom),
        ("item_name", p.item_name),
        ("item_number", p.item_number),
        ("mc_gross", money(txn.amount)),
        ("mc_fee", money(-txn.fee) if txn.fee else "0.00"),
        ("mc_currency", txn.currency),
        ("payment_type", "instant"),
        ("payment_status", txn.status),
        ("reason_code", REASON[txn.status]),
        ("parent_txn_id", txn.parent_id or ""),
        ("txn_id", txn.id),
    ]
    if txn.status == "Reversed":
        fields += [("case_type", "chargeback"), ("case_id", new_id("PP-D-", 8))]
    return fields + payer_fields(p) + receiver_fields(acct) + tail_fields(acct)


def _amount(value: Any, currency: str) -> dict[str, str]:
    return {"currency_code": currency, "value": money(value)}


CAPTURE_STATUS = {
    "Completed": "COMPLETED",
    "Pending": "PENDING",
    "Refunded": "REFUNDED",
    "Partially_Refunded": "PARTIALLY_REFUNDED",
    "Reversed": "REVERSED",
}


def capture_resource(txn: Transaction, p: Purchase, acct: Account, base_url: str) -> dict[str, Any]:
    """A capture as Payments v2 describes it (GET /v2/payments/captures/{id}, the
    PAYMENT.CAPTURE.* webhooks' resource, an order's purchase_units[].payments)."""
    data: dict[str, Any] = {
        "id": txn.id,
        "status": CAPTURE_STATUS.get(txn.status, txn.status.upper()),
        "amount": _amount(txn.amount, txn.currency),
        "final_capture": True,
        "seller_protection": {
            "status": "ELIGIBLE",
            "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"],
        },
        "seller_receivable_breakdown": {
            "gross_amount": _amount(txn.amount, txn.currency),
            "paypal_fee": _amount(txn.fee, txn.currency),
            "net_amount": _amount(txn.amount - txn.fee, txn.currency),
        },
        "custom_id": p.custom,
        "payee": {"email_address": acct.business, "merchant_id": acct.receiver_id},
        "supplementary_data": {"related_ids": {"order_id": p.id}},
        "create_time": rfc3339(txn.time),
        "update_time": rfc3339(txn.updated or txn.time),
        "links": [
            {"href": f"{base_url}/v2/payments/captures/{txn.id}", "rel": "self", "method": "GET"},
            {
                "href": f"{base_url}/v2/payments/captures/{txn.id}/refund",
                "rel": "refund",
                "method": "POST",
            },
            {"href": f"{base_url}/v2/checkout/orders/{p.id}", "rel": "up", "method": "GET"},
        ],
    }
    if txn.status == "Pending":
        data["status_details"] = {"reason": "ECHECK"}
    return data


def refund_resource(txn: Transaction, p: Purchase, base_url: str) -> dict[str, Any]:
    """A refund (or a reversal, which PayPal reports in the same shape) of a capture, its
    capture named by the `up` link."""
    data: dict[str, Any] = {
        "id": txn.id,
        "amount": _amount(abs(txn.amount), txn.currency),
        "status": "COMPLETED",
        "seller_payable_breakdown": {
            "gross_amount": _amount(abs(txn.amount), txn.currency),
            "paypal_fee": _amount(0, txn.currency),
            "net_amount": _amount(abs(txn.amount), txn.currency),
            "total_refunded_amount": _amount(abs(txn.amount), txn.currency),
        },
        "custom_id": p.custom,
        "create_time": rfc3339(txn.time),
        "update_time": rfc3339(txn.time),
        "links": [
            {"href": f"{base_url}/v2/payments/refunds/{txn.id}", "rel": "self", "method": "GET"},
            {
                "href": f"{base_url}/v2/payments/captures/{txn.parent_id}",
                "rel": "up",
                "method": "GET",
            },
        ],
    }
    if txn.kind == "reversal":
        data["note_to_payer"] = "Payment reversed"
    return data


def order_json(
    p: Purchase, capture: Transaction | None, acct: Account, base_url: str
) -> dict[str, Any]:
    """An order as GET /v2/checkout/orders/{id} (and the capture's answer) shows it."""
    unit: dict[str, Any] = {
        "reference_id": p.item_number or "default",
        "amount": _amount(p.amount, p.currency),
        "payee": {"email_address": acct.business, "merchant_id": acct.receiver_id},
        "custom_id": p.custom,
    }
    if p.item_name:
        unit["description"] = p.item_name
    if capture is not None:
        unit["payments"] = {"captures": [capture_resource(capture, p, acct, base_url)]}
    links = [{"href": f"{base_url}/v2/checkout/orders/{p.id}", "rel": "self", "method": "GET"}]
    if p.status == "CREATED":
        links.append(
            {"href": f"{base_url}/checkoutnow?token={p.id}", "rel": "approve", "method": "GET"}
        )
    if p.status == "APPROVED":
        links.append(
            {
                "href": f"{base_url}/v2/checkout/orders/{p.id}/capture",
                "rel": "capture",
                "method": "POST",
            }
        )
    data: dict[str, Any] = {
        "id": p.id,
        "intent": "CAPTURE",
        "status": p.status,
        "purchase_units": [unit],
        "create_time": rfc3339(p.create_time) if p.create_time else None,
        "update_time": rfc3339(p.update_time) if p.update_time else None,
        "links": links,
    }
    if p.payer_email and p.status != "CREATED":
        data["payer"] = {
            "name": {"given_name": p.first_name, "surname": p.last_name},
            "email_address": p.payer_email,
            "payer_id": p.payer_id,
        }
    return data
