"""One-time payments by IPN, pure: a Buy Now button's `web_accept` (also `express_checkout`
and `cart`), each buying a pass (docs/passes.md). Refunds and reversals of them carry
`parent_txn_id` and are read with every other money-back message in `ipn.py`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from ..rules.facts import Fact, FactKind
from ..rules.interpretation import PaymentInfo


class IpnFields(Protocol):
    """What this reader asks of an IPN (ipn.IpnMessage, which calls it: named here by
    shape, so the two modules do not import each other)."""

    @property
    def txn_type(self) -> str: ...
    @property
    def payment_status(self) -> str: ...
    @property
    def gross(self) -> Decimal | None: ...
    @property
    def fee(self) -> Decimal | None: ...
    @property
    def currency(self) -> str: ...
    def get(self, name: str) -> str: ...
    def date(self, *names: str) -> datetime | None: ...


#: The txn_types of a payment made once (PayPal's IPN variables, "txn_type").
ONE_TIME_TYPES = {"web_accept", "express_checkout", "cart"}
PAYMENT_KINDS = {
    "Completed": FactKind.PAYMENT_COMPLETED,
    "Pending": FactKind.PAYMENT_PENDING,
    "Failed": FactKind.PAYMENT_FAILED,
    "Denied": FactKind.PAYMENT_FAILED,
}


def one_time_payment(
    msg: IpnFields, received_at: datetime
) -> tuple[str, list[Fact], dict[str, Any]]:
    """(summary, facts, extra Interpretation fields) of a one-time payment. Its own txn_id
    names the purchase: a Pending and the later Completed share it."""
    t, status, txn = msg.txn_type, msg.payment_status, msg.get("txn_id")
    if not txn:
        raise ValueError(f"{t} names no txn_id")
    at = msg.date("payment_date") or received_at
    extra: dict[str, Any] = {"one_time": True, "subscription_ref": txn}
    kind = PAYMENT_KINDS.get(status)
    if kind is None:
        return f"one-time payment {txn} {status or 'without a status'}: noted", [], extra
    fact = Fact(kind, at, key=f"{txn}:{status}:{t}", txn_id=txn, amount=msg.gross)
    if kind is not FactKind.PAYMENT_FAILED and msg.gross is not None:
        extra["payment"] = PaymentInfo(
            txn, status, msg.gross, msg.currency, msg.fee, at, _tax(msg.get("tax"))
        )
    return f"one-time payment {txn} {status} {msg.gross} {msg.currency}", [fact], extra


def _tax(text: str) -> Decimal | None:
    """The tax PayPal reported; None (not 0) when it said none, as the receipt wants."""
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None
