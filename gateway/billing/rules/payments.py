"""A payment's current status, derived from the facts about its transaction."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from .facts import Fact, FactKind
from .statuses import PaymentStatus


def payment_status(facts: Iterable[Fact], txn_id: str, amount: Decimal) -> PaymentStatus | None:
    """PayPal's current status of one payment (arrival order cannot regress it).

    None when no fact speaks about the transaction (keep what is stored).
    """
    mine = [f for f in facts if f.txn_id == txn_id]
    kinds = {f.kind for f in mine}
    refunded = sum(
        (abs(f.amount) for f in mine if f.kind is FactKind.REFUNDED and f.amount), Decimal(0)
    )
    if FactKind.REVERSED in kinds and FactKind.REVERSAL_CANCELLED not in kinds:
        return PaymentStatus.REVERSED
    if FactKind.REFUNDED in kinds:
        return PaymentStatus.REFUNDED if refunded >= amount else PaymentStatus.PARTIALLY_REFUNDED
    if FactKind.PAYMENT_COMPLETED in kinds:
        return PaymentStatus.COMPLETED
    return PaymentStatus.PENDING if FactKind.PAYMENT_PENDING in kinds else None
