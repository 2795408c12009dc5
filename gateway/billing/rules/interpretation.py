"""What one notification says, in words no channel owns (docs/architecture.md, "Channels").

Every channel's *interpret* turns its raw bytes into an `Interpretation`; the checks and
the apply step read only this, never an IPN field or a webhook's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from .facts import Fact
from .statuses import PlanRefKind
from .terms import AgreedTerms


@dataclass(frozen=True)
class Receiver:
    """Whom the message says was paid: any of these naming us is enough."""

    emails: tuple[str, ...]
    account_id: str = ""


@dataclass(frozen=True)
class PlanRef:
    """One identifier a message gives for the plan (see `statuses.PlanRefKind`)."""

    kind: PlanRefKind
    value: str

    @property
    def key(self) -> str:
        """PayPal treats these identifiers without regard to case or outer spaces."""
        return " ".join(self.value.split()).lower()


@dataclass(frozen=True)
class Money:
    """An amount as the message reports it; tax is not part of the price."""

    gross: Decimal | None
    currency: str
    tax: Decimal = Decimal(0)
    fee: Decimal | None = None


@dataclass(frozen=True)
class PaymentInfo:
    """A payment to record as a row (one per PayPal transaction)."""

    txn_id: str
    status: str
    amount: Decimal
    currency: str
    fee: Decimal | None
    at: datetime
    #: The tax PayPal reported inside `amount`, for the receipt; None when it said none.
    tax: Decimal | None = None


@dataclass(frozen=True)
class Interpretation:
    """A channel-neutral reading of one notification.

    `error` says what could not be read: such a message has no effect and is flagged.
    `relevant` is False for messages about other products (stored, then ignored).
    """

    summary: str
    relevant: bool = True
    error: str = ""
    #: For the admin log's filters: the message type, its transaction and status.
    event: str = ""
    txn_id: str = ""
    status: str = ""
    #: PayPal's subscription id (subscr_id, recurring_payment_id, I-...); for a one-time
    #: purchase (a pass): the purchase's own id (the Buy Now txn_id, the Orders order id).
    subscription_ref: str = ""
    #: A one-time purchase (web_accept, an Orders capture): it buys a pass, and is tied to
    #: its member's pass by our checkout token (gateway/passes/purchases.py).
    one_time: bool = False
    #: Refunds and reversals name the payment they undo, not the subscription.
    parent_txn_id: str = ""
    #: Identifiers naming the plan, most specific first; empty when the message has none.
    plan_refs: tuple[PlanRef, ...] = ()
    #: When PayPal last changed the resource naming `plan_refs` (a REST subscription's
    #: update_time): a plan change (revise) is followed only by a newer message.
    plan_at: datetime | None = None
    #: The buyer's e-mail at PayPal (a hint for an admin matching a member, never trusted).
    payer_email: str = ""
    #: The payer's name at PayPal (business name, else given name and surname), for the
    #: receipt of a payment this message records; "" when the message names none.
    payer_name: str = ""
    #: Our checkout token, echoed back by PayPal (custom / custom_id).
    member_token: str = ""
    #: None where the channel's verification already proves the receiver.
    receiver: Receiver | None = None
    #: None where the channel has no sandbox marker.
    is_test: bool | None = None
    money: Money | None = None
    payment: PaymentInfo | None = None
    facts: tuple[Fact, ...] = field(default_factory=tuple)
    #: The subscription's terms as PayPal reports them ("signup" or "change"), and since when.
    terms: AgreedTerms | None = None
    terms_event: str = ""
    terms_at: datetime | None = None
    #: What an admin should know although the message was applied (e.g. a date we
    #: could not read and replaced by the receipt time).
    warnings: tuple[str, ...] = ()

    @property
    def completes_payment(self) -> bool:
        return self.payment is not None and self.payment.status == "Completed"
