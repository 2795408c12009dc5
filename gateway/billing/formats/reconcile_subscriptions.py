"""Reconciliation of subscriptions, pure: ours against PayPal's GET of each -> differences.

A renewing REST subscription of ours that PayPal has stopped means the message that said
so was lost; the payments' comparison (`reconcile.py`) cannot see it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .paypal_json import parse_rfc3339
from .reconcile import Difference, DiffKind, when


@dataclass(frozen=True)
class OurSubscription:
    paypal_id: str
    subscription_id: int
    state: str
    paid_through: datetime | None


#: PayPal's subscription statuses that mean "no renewals" while we think it renews.
STOPPED = {"CANCELLED", "SUSPENDED", "EXPIRED"}


def compare_subscription(
    ours: OurSubscription, theirs: Mapping[str, Any] | None
) -> Difference | None:
    """Our renewing REST subscription against PayPal's GET of it (None: PayPal knows no
    such subscription)."""
    if theirs is None:
        status, since = "unknown to PayPal (404)", ""
    else:
        status = str(theirs.get("status") or "").upper()
        if status not in STOPPED:
            return None
        try:
            changed = parse_rfc3339(theirs.get("status_update_time"))
        except ValueError:
            changed = None
        since = f" since {when(changed)}" if changed else ""
    paid = f", paid through {when(ours.paid_through)}" if ours.paid_through else ""
    return Difference(
        DiffKind.SUBSCRIPTION,
        f"reconcile:subscription:{ours.paypal_id}:{status.split()[0]}",
        f"Subscription {ours.paypal_id} is {status}{since} at PayPal but {ours.state} here — "
        f"ours: {ours.paypal_id} {ours.state}{paid}; PayPal's: {ours.paypal_id} {status}"
        f"{since} (Subscriptions API). The message that said so was probably lost.",
        subscription_id=ours.subscription_id,
    )
