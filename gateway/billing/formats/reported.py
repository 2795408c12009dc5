"""PayPal's reports, pure: Transaction Search's windows and rows read into `Reported`
transactions, and a payment PayPal reported that we never heard of, stored as a message.

A backfilled payment is a notification of channel `csv` ("a row of PayPal's reports",
whether the Activity CSV or Transaction Search), stored by reconciliation only:

    {"kind": "reported_payment", "reported_at": "2026-01-15T12:00:00Z",
     "source": "Transaction Search", "transaction": {...}, "row": {...}}

`transaction` holds the fields read from the row (strings); `row` is the row as PayPal
wrote it. Its fact has the key the webhook and the API use (`{id}:Completed`), so the
same payment reported later by any channel is still one payment.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ..rules.facts import Fact, FactKind
from ..rules.interpretation import Interpretation, Money, PaymentInfo, PlanRef
from ..rules.statuses import PlanRefKind
from .names import payer_name
from .paypal_json import Json, load_object, parse_rfc3339, rfc3339
from .reported_transaction import Reported, Said, TxnKind

SEARCH = "Transaction Search"
#: Transaction Search accepts at most this range per request (docs/paypal.md §9).
MAX_WINDOW = timedelta(days=31)
#: Transaction Search's transaction_status (docs/paypal.md §9).
SEARCH_STATUS = {
    "S": Said.COMPLETED,
    "P": Said.PENDING,
    "D": Said.DENIED,
    "V": Said.MONEY_BACK,
}
#: T-codes of money coming back out of a payment, and of a reversal being undone.
REFUND_CODES = {"T1107"}
REVERSAL_CODES = {"T1106", "T1201"}
REVERSAL_CANCEL_CODES = {"T1111", "T1202"}
#: Reference types naming a subscription or billing agreement rather than a transaction.
SUBSCRIPTION_REF_TYPES = {"SUB", "PAP", "BAP"}
#: Subscription (I-, S-) and billing agreement (B-) ids.
SUBSCRIPTION_ID_RE = re.compile(r"[ISB]-[A-Z0-9]{4,60}", re.ASCII)
TXN_ID_RE = re.compile(r"[A-Za-z0-9-]{1,64}", re.ASCII)
#: PayPal writes `2014-07-11T04:03:52+0000`; RFC 3339 wants `+00:00`.
COMPACT_OFFSET_RE = re.compile(r"([+-]\d{2})(\d{2})\Z")


def windows(
    start: datetime, end: datetime, span: timedelta = MAX_WINDOW
) -> list[tuple[datetime, datetime]]:
    """[start, end] cut into consecutive windows of at most `span`."""
    cuts = []
    at = start
    while at < end:
        cuts.append((at, min(at + span, end)))
        at += span
    return cuts


def kind_of_code(code: str, amount: Decimal) -> TxnKind:
    code = code.upper()
    if code in REFUND_CODES:
        return TxnKind.REFUND
    if code in REVERSAL_CODES:
        return TxnKind.REVERSAL
    if code in REVERSAL_CANCEL_CODES:
        return TxnKind.REVERSAL_CANCEL
    if code.startswith("T00") and amount > 0:
        return TxnKind.PAYMENT
    return TxnKind.OTHER


def looks_like_subscription(ref: str) -> bool:
    return SUBSCRIPTION_ID_RE.fullmatch(ref) is not None


def search_time(text: object) -> datetime | None:
    """Transaction Search's times: RFC 3339, or with PayPal's `+0000` offset."""
    if isinstance(text, str):
        text = COMPACT_OFFSET_RE.sub(r"\1:\2", text.strip())
    return parse_rfc3339(text)


def from_search(row: dict[str, Any]) -> Reported:
    """One `transaction_details[]` item; ValueError if it cannot be read."""
    doc = Json(row)
    info = doc.obj("transaction_info")
    txn_id = info.ident("transaction_id")
    if not TXN_ID_RE.fullmatch(txn_id):
        raise ValueError(f"transaction_id {txn_id!r} is not a PayPal id")
    amount = info.amount("transaction_amount.value")
    if amount is None:
        raise ValueError(f"transaction {txn_id} names no amount")
    at = search_time(info.raw("transaction_initiation_date"))
    if at is None:
        raise ValueError(f"transaction {txn_id} names no date")
    code = info.text("transaction_event_code")
    status = SEARCH_STATUS.get(info.text("transaction_status").upper())
    if status is None:
        raise ValueError(
            f"transaction {txn_id}: unknown status {info.text('transaction_status')!r}"
        )
    kind = kind_of_code(code, amount)
    ref, ref_type = info.ident("paypal_reference_id"), info.text("paypal_reference_id_type").upper()
    names_subscription = ref_type in SUBSCRIPTION_REF_TYPES or looks_like_subscription(ref)
    fee = info.amount("fee_amount.value")
    items = doc.obj("cart_info").items("item_details")
    return Reported(
        txn_id=txn_id,
        kind=kind,
        status=status,
        amount=amount,
        currency=info.text("transaction_amount.currency_code").upper(),
        at=at,
        source=SEARCH,
        current=True,
        fee=abs(fee) if fee is not None else None,
        subscription_ref=ref if kind is TxnKind.PAYMENT and names_subscription else "",
        parent_txn_id=ref if kind is not TxnKind.PAYMENT and not names_subscription else "",
        custom=info.text("custom_field")[:127],
        payer_email=doc.text("payer_info.email_address")[:254],
        payer_name=payer_name(
            doc.text("payer_info.payer_name.given_name"),
            doc.text("payer_info.payer_name.surname"),
        )
        or payer_name("", "", doc.text("payer_info.payer_name.alternate_full_name")),
        item=items[0].text("item_code")[:127] if items else "",
        code=code,
        raw=row,
    )


# -- backfill documents ------------------------------------------------------------------


def event_key(txn_id: str) -> str:
    """The stored message's event id: one backfill per payment, whichever report found it."""
    return f"reported:{txn_id}"


def backfill_document(r: Reported, reported_at: datetime) -> bytes:
    """The message to store for a payment PayPal reported and we never heard of."""
    doc = {
        "kind": "reported_payment",
        "reported_at": rfc3339(reported_at),
        "source": r.source,
        "transaction": {
            "id": r.txn_id,
            "status": r.status.value,
            "amount": str(r.amount),
            "currency": r.currency,
            "fee": str(r.fee) if r.fee is not None else None,
            "time": rfc3339(r.at),
            "subscription": r.subscription_ref,
            "custom": r.custom,
            "payer_email": r.payer_email,
            "payer_name": r.payer_name,
            "item": r.item,
            "code": r.code,
        },
        "row": dict(r.raw),
    }
    return json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str
    ).encode("ascii")


def interpret_reported(body: bytes, received_at: datetime) -> Interpretation:
    """The `csv` channel's *interpret*: a stored report row -> a channel-neutral reading.

    Never raises on bad input. The report is our own account's (fetched by us over TLS,
    or uploaded by an admin), so `receiver` and `is_test` stay None.
    """
    try:
        doc = Json(load_object(body))
        if doc.text("kind") != "reported_payment":
            raise ValueError(f"not a reported payment (kind {doc.text('kind')!r})")
        return _payment(doc.obj("transaction"), doc.text("source") or "a report", received_at)
    except ValueError as e:
        return Interpretation(summary="unreadable", error=f"cannot read the reported row: {e}")


def _payment(txn: Json, source: str, received_at: datetime) -> Interpretation:
    txn_id, status = txn.ident("id"), txn.text("status")
    if not txn_id:
        raise ValueError("the row has no transaction id")
    base = Interpretation(
        summary="",
        event="reported payment",
        txn_id=txn_id,
        status=status,
        subscription_ref=txn.ident("subscription"),
        member_token=txn.text("custom"),
        plan_refs=_plan_refs(txn.text("item")),
        payer_email=txn.text("payer_email"),
        payer_name=txn.text("payer_name"),
    )
    if status != Said.COMPLETED.value:
        return replace(
            base, summary=f"reported by PayPal ({source}): payment {txn_id} {status}: noted"
        )
    gross, currency = txn.amount("amount"), txn.text("currency")
    if gross is None or gross <= 0:
        raise ValueError(f"payment {txn_id} names no amount paid to us")
    at = search_time(txn.raw("time"))
    if at is None:
        raise ValueError(f"payment {txn_id} names no time")
    fee = txn.amount("fee")
    fact = Fact(
        FactKind.PAYMENT_COMPLETED, at, key=f"{txn_id}:Completed", txn_id=txn_id, amount=gross
    )
    return replace(
        base,
        summary=f"reported by PayPal ({source}), backfilled by reconciliation: payment "
        f"{txn_id} Completed {gross} {currency}",
        facts=(fact,),
        payment=PaymentInfo(txn_id, "Completed", gross, currency, fee, at),
        money=Money(gross, currency, Decimal(0), fee),
    )


def _plan_refs(item: str) -> tuple[PlanRef, ...]:
    """A report names the plan by its item: our plan code (Standard) or REST plan id."""
    if not item:
        return ()
    kind = PlanRefKind.REST_PLAN if item.upper().startswith("P-") else PlanRefKind.ITEM_NUMBER
    return (PlanRef(kind, item),)
