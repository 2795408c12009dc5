"""The facts every channel (admin, IPN, webhooks, API) reduces PayPal's messages to."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


class FactKind(enum.StrEnum):
    """What happened to a subscription. Values are stored in the database."""

    STARTED = "started"  # signup seen; no access by itself
    TRIAL = "trial"  # free trial until `until`
    PAYMENT_COMPLETED = "payment_completed"  # `txn_id` paid `amount`; buys one period
    PAYMENT_PENDING = "payment_pending"  # informational: waits for Completed
    PAYMENT_FAILED = "payment_failed"  # renewal failed; PayPal retries -> grace
    REFUNDED = "refunded"  # `txn_id` (the parent) refunded by `amount`
    REVERSED = "reversed"  # `txn_id` charged back
    REVERSAL_CANCELLED = "reversal_cancelled"  # the chargeback was lost by the buyer
    CANCELLED = "cancelled"  # no more renewals
    SUSPENDED = "suspended"  # renewals paused
    REACTIVATED = "reactivated"  # renewals resumed
    ENDED = "ended"  # end of term: no renewals, no grace
    GRANTED = "granted"  # admin: access until `until`
    REVOKED = "revoked"  # admin: access ends at `at`


# Sort order for facts with the same timestamp, so that any arrival order folds the same way.
KIND_ORDER = {kind: i for i, kind in enumerate(FactKind)}


@dataclass(frozen=True)
class Fact:
    """One fact about a subscription; equal facts are the same fact (duplicates collapse)."""

    kind: FactKind
    at: datetime
    key: str = ""
    txn_id: str | None = None
    amount: Decimal | None = None
    until: datetime | None = None

    def sort_key(self) -> tuple[datetime, int, str, str]:
        return (self.at, KIND_ORDER[self.kind], self.key, self.txn_id or "")
