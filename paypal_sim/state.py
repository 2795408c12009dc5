"""The stand-in's in-memory world: the merchant account, plans, subscriptions, transactions.

One re-entrant lock guards it all; nothing here does I/O, so the lock is never held
while the stand-in talks to the merchant (whose listener may call back into us).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from .formats import new_id


@dataclass
class Account:
    """The merchant's PayPal account as IPN reports it."""

    business: str = "merchant@example.com"
    receiver_id: str = "SIMMERCHANT01"  # 13 characters, like PayPal's
    charset: str = "windows-1252"
    sandbox: bool = True  # adds test_ipn=1
    client_id: str = "sim-client-id"
    client_secret: str = "sim-client-secret"
    # Classic API (NVP) signature credentials.
    nvp_user: str = "sim-api-user"
    nvp_password: str = "sim-api-password"
    nvp_signature: str = "sim-api-signature"
    token_lifetime: int = 32400  # seconds
    notify_url: str = ""  # profile IPN URL (a button's notify_url wins)
    rest_ipn: bool = False  # REST payments are also reported by IPN (both channels on)
    captures_pending: bool = False  # Orders captures come back PENDING (cleared by control)
    fee_rate: Decimal = Decimal("0.029")
    fee_fixed: Decimal = Decimal("0.30")


@dataclass
class Plan:
    """A REST billing plan (P-...)."""

    id: str
    product_id: str
    name: str
    price: Decimal
    currency: str
    interval_unit: str  # DAY | WEEK | MONTH | YEAR
    interval_count: int
    total_cycles: int = 0  # 0 = until cancelled
    #: The TRIAL billing cycles in order, (price, count, unit D/W/M/Y); a free one at 0.
    trials: list[tuple[Decimal, int, str]] = field(default_factory=list)
    payment_failure_threshold: int = 3
    status: str = "ACTIVE"
    create_time: datetime | None = None


@dataclass
class Subscription:
    """One subscription, Standard (button + IPN) or REST (API + webhooks)."""

    id: str
    style: str  # "standard" | "rest"
    status: str  # APPROVAL_PENDING | APPROVED | ACTIVE | SUSPENDED | CANCELLED | EXPIRED
    item_name: str
    item_number: str
    amount: Decimal
    currency: str
    period_count: int
    period_unit: str  # D W M Y
    custom: str = ""
    ipn_style: str = "subscr"  # Standard only: "subscr" or "recurring" (recurring_payment*)
    notify_url: str = ""
    return_url: str = ""
    cancel_url: str = ""
    plan_id: str = ""
    trial_amount: Decimal | None = None
    trial_count: int = 0
    trial_unit: str | None = None
    trial2_amount: Decimal | None = None
    trial2_count: int = 0
    trial2_unit: str | None = None
    #: Paid trials still to charge: (when, amount); the regular cycles start at `anchor`.
    trial_bills: list[tuple[datetime, Decimal]] = field(default_factory=list)
    total_cycles: int = 0  # srt; 0 = until cancelled
    cycles_completed: int = 0
    reattempt: bool = True
    failure_threshold: int = 3
    failed_payments: int = 0
    fail_next: int = 0  # control: how many coming charges fail
    payer_id: str = ""
    payer_email: str = ""
    first_name: str = ""
    last_name: str = ""
    approval_token: str = ""
    # REST user_action: SUBSCRIBE_NOW activates on approval; CONTINUE leaves it APPROVED
    # until the merchant activates it.
    user_action: str = "SUBSCRIBE_NOW"
    create_time: datetime | None = None
    start_time: datetime | None = None
    anchor: datetime | None = None  # billing-cycle anchor (first regular charge)
    next_billing: datetime | None = None
    eot_at: datetime | None = None  # Standard: end of term notice due
    last_payment: Transaction | None = None
    status_update_time: datetime | None = None
    #: A revise (plan change) the buyer has still to approve: the plan, the approve
    #: link's token, where PayPal sends the browser back. Empty when none waits.
    revise_plan_id: str = ""
    revise_token: str = ""
    revise_return_url: str = ""
    revise_cancel_url: str = ""
    #: When the subscription last changed other than by status (a revise).
    update_time: datetime | None = None


@dataclass
class Transaction:
    id: str
    subscription_id: str
    kind: str  # payment | refund | reversal | reversal_cancel
    status: str  # Completed | Refunded | Reversed | Canceled_Reversal | ...
    amount: Decimal  # negative for money leaving the merchant
    currency: str
    fee: Decimal
    time: datetime
    parent_id: str | None = None
    custom: str = ""
    item_name: str = ""
    item_number: str = ""
    payer_email: str = ""
    payer_name: str = ""
    updated: datetime | None = None


@dataclass
class Webhook:
    id: str
    url: str
    event_types: list[str] = field(default_factory=lambda: ["*"])


@dataclass
class World:
    account: Account = field(default_factory=Account)
    plans: dict[str, Plan] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    transactions: dict[str, Transaction] = field(default_factory=dict)
    webhooks: dict[str, Webhook] = field(default_factory=dict)
    tokens: dict[str, datetime] = field(default_factory=dict)  # access token -> expiry
    refund_requests: dict[str, str] = field(default_factory=dict)  # PayPal-Request-Id -> refund txn
    #: PayPal-Request-Id -> subscription id: a retried create returns the same subscription.
    create_requests: dict[str, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # every webhook envelope made
    #: One-time purchases (one_time.py): Orders v2 orders and Buy Now payments, by id.
    purchases: dict[str, Any] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def subscription(self, sub_id: str) -> Subscription:
        try:
            return self.subscriptions[sub_id]
        except KeyError:
            raise NotFound(f"subscription {sub_id} does not exist") from None

    def transaction(self, txn_id: str) -> Transaction:
        try:
            return self.transactions[txn_id]
        except KeyError:
            raise NotFound(f"transaction {txn_id} does not exist") from None

    def new_subscription_id(self) -> str:
        return new_id("I-", 12)


class NotFound(LookupError):
    """An id the stand-in does not know."""


class Refused(ValueError):
    """An operation PayPal would refuse in the object's current state."""


@dataclass
class Purchase:
    """An order (style "order", id = the order id) or a Buy Now payment (style "buynow")."""

    id: str
    style: str
    status: str  # order: CREATED | APPROVED | COMPLETED; buy now: COMPLETED
    amount: Decimal
    currency: str
    custom: str = ""
    item_name: str = ""
    item_number: str = ""
    quantity: int = 1
    notify_url: str = ""
    return_url: str = ""
    cancel_url: str = ""
    payee_email: str = ""
    payer_id: str = ""
    payer_email: str = ""
    first_name: str = ""
    last_name: str = ""
    create_time: datetime | None = None
    update_time: datetime | None = None
    capture_id: str = ""  # the payment's transaction (Buy Now: its txn_id)
