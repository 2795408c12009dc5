"""PayPal's reported transactions: `Reported`, its `TxnKind` and what PayPal `Said` of it.

Apart from the comparison (`reconcile.py`): the reports' readers (`reported.py`,
`activity_csv.py`) produce them without needing it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


class TxnKind(enum.StrEnum):
    PAYMENT = "payment"  # money to us (T00xx, "... Payment")
    REFUND = "refund"  # money back to the buyer (T1107)
    REVERSAL = "reversal"  # a chargeback or PayPal reversal (T1106, T1201)
    REVERSAL_CANCEL = "reversal_cancel"  # the reversal was cancelled (T1111, T1202)
    OTHER = "other"  # fees, transfers, conversions, payments we sent: not compared


class Said(enum.StrEnum):
    """PayPal's word on one payment, from either report."""

    COMPLETED = "Completed"
    PENDING = "Pending"
    DENIED = "Denied"
    REFUNDED = "Refunded"
    PARTIALLY_REFUNDED = "Partially_Refunded"
    REVERSED = "Reversed"
    #: Transaction Search's `V`: refunded or reversed, it does not say which.
    MONEY_BACK = "Refunded or reversed"


@dataclass(frozen=True)
class Reported:
    """One transaction as PayPal's report shows it. `amount` is signed as PayPal signs it
    (money leaving us is negative); `current` says whether `status` is PayPal's word now
    (Transaction Search) or may be the one at the time of payment (Activity CSV)."""

    txn_id: str
    kind: TxnKind
    status: Said
    amount: Decimal
    currency: str
    at: datetime
    source: str
    current: bool = True
    fee: Decimal | None = None
    #: A payment's subscription (I-..., S-..., B-...); "" if it names none.
    subscription_ref: str = ""
    #: The payment a refund or reversal takes back.
    parent_txn_id: str = ""
    custom: str = ""
    payer_email: str = ""
    payer_name: str = ""
    item: str = ""
    code: str = ""
    #: The row as PayPal wrote it (kept with a backfilled payment as its record).
    raw: Mapping[str, Any] = field(default_factory=dict)
