"""IPN messages, pure: decode the raw body in its charset, parse PayPal's dates, and turn
each subscription message into billing facts (PAYPAL.md §1-3)."""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Optional
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from .facts import Fact, FactKind
from .periods import add_period

PACIFIC = ZoneInfo("America/Los_Angeles")
DEFAULT_CHARSET = "windows-1252"   # PayPal's default when the body names none
MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
DATE_RE = re.compile(r"^\s*(\d{1,2}):(\d{2}):(\d{2})\s+([A-Za-z]{3})\.?\s+(\d{1,2}),\s+(\d{4})"
                     r"\s+(PST|PDT)\s*$")


def decode_body(raw: bytes) -> tuple[dict[str, str], str]:
    """Fields of a form-encoded IPN, decoded with the charset the body names; and that charset.

    The `charset` field itself is ASCII, so it can be found before decoding anything else.
    A charset we do not know falls back to windows-1252; bytes that do not decode are
    replaced rather than refused (the raw body stays stored).
    """
    text = raw.decode("latin-1")
    charset = DEFAULT_CHARSET
    for key, value in parse_qsl(text, keep_blank_values=True):
        if key == "charset" and value.strip():
            charset = value.strip()
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = DEFAULT_CHARSET
    pairs = parse_qsl(text, keep_blank_values=True, encoding=charset, errors="replace")
    return dict(pairs), charset


def parse_payment_date(text: Optional[str]) -> Optional[datetime]:
    """`18:13:35 Apr 17, 2012 PDT` (also `Apr.`) in US Pacific -> aware UTC; `N/A` -> None.

    The zone word decides the repeated hour when daylight saving ends (fold).
    Locale-independent: month names are matched by hand.
    """
    if not text or text.strip().upper() == "N/A":
        return None
    m = DATE_RE.match(text)
    if not m or m.group(4).lower() not in MONTHS:
        raise ValueError(f"not a PayPal date: {text!r}")
    hh, mm, ss, mon, dd, yyyy, zone = m.groups()
    local = datetime(int(yyyy), MONTHS[mon.lower()], int(dd), int(hh), int(mm), int(ss))
    offset = timedelta(hours=-7 if zone == "PDT" else -8)
    return (local - offset).replace(tzinfo=timezone.utc)


def _decimal(value: Optional[str]) -> Optional[Decimal]:
    if value is None or value.strip() == "":
        return None
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        return None


@dataclass(frozen=True)
class IpnMessage:
    """Typed access to the fields the gateway uses; everything else stays in `fields`."""

    fields: dict[str, str]

    def get(self, name: str) -> str:
        return self.fields.get(name, "").strip()

    @property
    def txn_type(self) -> str:
        return self.get("txn_type")

    @property
    def subscription_ref(self) -> str:
        """subscr_id for Standard, recurring_payment_id for profile-style messages."""
        return self.get("subscr_id") or self.get("recurring_payment_id")

    @property
    def custom(self) -> str:
        return self.get("custom") or self.get("rp_invoice_id")

    @property
    def gross(self) -> Optional[Decimal]:
        return _decimal(self.fields.get("mc_gross"))

    @property
    def tax(self) -> Decimal:
        return _decimal(self.fields.get("tax")) or Decimal(0)

    @property
    def fee(self) -> Optional[Decimal]:
        return _decimal(self.fields.get("mc_fee"))

    @property
    def currency(self) -> str:
        return self.get("mc_currency") or self.get("currency_code")

    @property
    def is_test(self) -> bool:
        return self.get("test_ipn") == "1"

    @property
    def payment_status(self) -> str:
        return self.get("payment_status")

    def date(self, *names: str) -> Optional[datetime]:
        for name in names:
            value = parse_payment_date(self.fields.get(name))
            if value is not None:
                return value
        return None


PAYMENT_TYPES = {"subscr_payment", "recurring_payment"}
MONEY_BACK = {"Refunded": FactKind.REFUNDED, "Reversed": FactKind.REVERSED,
              "Canceled_Reversal": FactKind.REVERSAL_CANCELLED}
SUBSCRIPTION_TYPES = PAYMENT_TYPES | {
    "subscr_signup", "subscr_modify", "subscr_failed", "subscr_cancel", "subscr_eot",
    "recurring_payment_profile_created", "recurring_payment_skipped",
    "recurring_payment_failed", "recurring_payment_suspended",
    "recurring_payment_suspended_due_to_max_failed_payment",
    "recurring_payment_profile_cancel", "recurring_payment_expired"}


@dataclass(frozen=True)
class PaymentInfo:
    txn_id: str
    status: str
    amount: Decimal
    currency: str
    fee: Optional[Decimal]
    at: datetime


@dataclass
class Interpretation:
    """What one message says, before any lookup: facts, and how to find their subscription."""

    relevant: bool
    summary: str
    facts: list[Fact] = field(default_factory=list)
    payment: Optional[PaymentInfo] = None
    #: Refunds and reversals name the payment, not the subscription.
    parent_txn_id: str = ""


def interpret(msg: IpnMessage, received_at: datetime) -> Interpretation:
    """Turn one IPN into facts. Keys make a re-delivered message the same fact."""
    t, status, txn = msg.txn_type, msg.payment_status, msg.get("txn_id")
    track = msg.get("ipn_track_id")

    if status in MONEY_BACK and msg.get("parent_txn_id"):
        parent = msg.get("parent_txn_id")
        at = msg.date("payment_date") or received_at
        fact = Fact(MONEY_BACK[status], at, key=f"{txn}:{status}:{t}", txn_id=parent,
                    amount=msg.gross)
        return Interpretation(True, f"{status} {msg.gross} {msg.currency} of payment {parent}",
                              [fact], parent_txn_id=parent)
    if t not in SUBSCRIPTION_TYPES:
        return Interpretation(False, f"not a subscription message (txn_type={t or 'none'})")

    if t in PAYMENT_TYPES:
        at = msg.date("payment_date") or received_at
        kinds = {"Completed": FactKind.PAYMENT_COMPLETED, "Pending": FactKind.PAYMENT_PENDING,
                 "Failed": FactKind.PAYMENT_FAILED, "Denied": FactKind.PAYMENT_FAILED}
        kind = kinds.get(status)
        if kind is None or not txn:
            return Interpretation(True, f"{t} with payment_status {status or 'none'}: noted")
        fact = Fact(kind, at, key=f"{txn}:{status}:{t}", txn_id=txn, amount=msg.gross)
        payment = None
        if kind is not FactKind.PAYMENT_FAILED and msg.gross is not None:
            payment = PaymentInfo(txn, status, msg.gross, msg.currency, msg.fee, at)
        return Interpretation(True, f"payment {txn} {status} {msg.gross} {msg.currency}",
                              [fact], payment=payment)

    if t == "subscr_signup":
        at = msg.date("subscr_date") or received_at
        facts = [Fact(FactKind.STARTED, at, key=f"subscr_signup:{msg.get('subscr_date')}")]
        trial = _free_trial_until(msg, at)
        if trial is not None:
            facts.append(Fact(FactKind.TRIAL, at, key="trial", until=trial))
        return Interpretation(True, "signup" + (" with a free trial" if trial else ""), facts)
    if t == "recurring_payment_profile_created":
        at = msg.date("time_created") or received_at
        return Interpretation(True, "profile created",
                              [Fact(FactKind.STARTED, at, key="profile_created")])
    if t == "subscr_modify":
        return Interpretation(True, "modified at PayPal; no change to access")
    if t in ("subscr_failed", "recurring_payment_skipped", "recurring_payment_failed"):
        at = msg.date("payment_date") or received_at
        key = f"{t}:{msg.get('payment_date') or track}"
        return Interpretation(True, "renewal payment failed",
                              [Fact(FactKind.PAYMENT_FAILED, at, key=key)])
    if t in ("subscr_cancel", "recurring_payment_profile_cancel"):
        at = msg.date("subscr_date") or received_at
        return Interpretation(True, "cancelled: no more renewals",
                              [Fact(FactKind.CANCELLED, at, key="cancelled")])
    if t == "recurring_payment_suspended":
        return Interpretation(True, "suspended",
                              [Fact(FactKind.SUSPENDED, received_at, key=f"{t}:{track}")])
    # subscr_eot, recurring_payment_expired, ..._suspended_due_to_max_failed_payment
    return Interpretation(True, "end of term: no renewals, no grace",
                          [Fact(FactKind.ENDED, received_at, key="ended")])


def _free_trial_until(msg: IpnMessage, start: datetime) -> Optional[datetime]:
    amount = _decimal(msg.fields.get("mc_amount1") or msg.fields.get("amount1"))
    period = msg.get("period1").split()
    if amount != 0 or len(period) != 2 or not period[0].isdigit() or period[1] not in "DWMY":
        return None
    return add_period(start, int(period[0]), period[1])
