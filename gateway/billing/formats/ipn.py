"""IPN messages, pure: decode the raw body in its charset, parse PayPal's dates, and turn
each subscription message into a channel-neutral interpretation (docs/paypal.md §3-§5)."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from ..rules.facts import Fact, FactKind
from ..rules.interpretation import Interpretation, Money, PaymentInfo, PlanRef, Receiver
from ..rules.periods import PeriodUnit, add_period
from ..rules.statuses import PlanRefKind
from ..rules.terms import AgreedTerms
from .ipn_one_time import ONE_TIME_TYPES, PAYMENT_KINDS, one_time_payment
from .names import payer_name

PACIFIC = ZoneInfo("America/Los_Angeles")
DEFAULT_CHARSET = "windows-1252"  # PayPal's default when the body names none
MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
DATE_RE = re.compile(
    r"^\s*(\d{1,2}):(\d{2}):(\d{2})\s+([A-Za-z]{3})\.?\s+(\d{1,2}),\s+(\d{4})"
    r"\s+(PST|PDT)\s*$"
)


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
            charset = text_charset(value.strip()) or DEFAULT_CHARSET
    pairs = parse_qsl(text, keep_blank_values=True, encoding=charset, errors="replace")
    return dict(pairs), charset


#: Every byte value: a codec must turn them into text (with replacements) to be used.
_ALL_BYTES = bytes(range(256))


def text_charset(name: str) -> str | None:
    """`name` if it is a real text encoding that can decode any bytes, else None.

    Python's codec registry also holds bytes-to-bytes and str-to-str codecs (`rot13`,
    `hex`, `base64`, `zlib`), text codecs that refuse `errors="replace"` (`idna`) and
    Python's escape codecs (`unicode_escape`); anyone can put those names in a body, so
    they are refused here, once.
    """
    try:
        info = codecs.lookup(name)
        if not info._is_text_encoding or "escape" in info.name:  # escapes read Python syntax
            return None
        _ALL_BYTES.decode(name, errors="replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        return None
    return name


#: `18:13:35 17 Apr 2012 PDT`: day before month, as some PayPal tools write it.
DAY_FIRST_RE = re.compile(
    r"^\s*(\d{1,2}):(\d{2}):(\d{2})\s+(\d{1,2})\s+([A-Za-z]{3})\.?,?\s+(\d{4})\s+(PST|PDT)\s*$"
)
#: `Sun May 24 2015 14:32:31 GMT-0700 (PDT)`: the IPN simulator's JavaScript date, in the
#: sender's own zone (the offset counts; the name in brackets is ignored).
JS_RE = re.compile(
    r"^\s*(?:[A-Za-z]{3}\s+)?([A-Za-z]{3})\s+(\d{1,2})\s+(\d{4})\s+(\d{1,2}):(\d{2}):(\d{2})"
    r"\s+GMT([+-])(\d{2}):?(\d{2})(?:\s*\(.*\))?\s*$"
)


def parse_payment_date(text: str | None) -> datetime | None:
    """A PayPal date -> aware UTC; `N/A` or nothing -> None; ValueError if unreadable.

    `18:13:35 Apr 17, 2012 PDT` (also `Apr.`) and `18:13:35 17 Apr 2012 PDT` are US
    Pacific, the zone word deciding the repeated hour when daylight saving ends;
    `Sun May 24 2015 14:32:31 GMT-0700 (PDT)` carries its own offset. Month names are
    matched by hand, so the server's locale does not matter.
    """
    if not text or text.strip().upper() == "N/A":
        return None
    if m := DATE_RE.match(text):
        hh, mm, ss, mon, dd, yyyy, zone = m.groups()
        return _pacific(yyyy, mon, dd, hh, mm, ss, zone, text)
    if m := DAY_FIRST_RE.match(text):
        hh, mm, ss, dd, mon, yyyy, zone = m.groups()
        return _pacific(yyyy, mon, dd, hh, mm, ss, zone, text)
    if m := JS_RE.match(text):
        mon, dd, yyyy, hh, mm, ss, sign, oh, om = m.groups()
        local = _local(yyyy, mon, dd, hh, mm, ss, text)
        offset = timedelta(hours=int(oh), minutes=int(om)) * (1 if sign == "+" else -1)
        return (local - offset).replace(tzinfo=UTC)
    raise ValueError(f"not a PayPal date: {text!r}")


def _local(yyyy: str, mon: str, dd: str, hh: str, mm: str, ss: str, text: str) -> datetime:
    if mon.lower() not in MONTHS:
        raise ValueError(f"not a PayPal date: {text!r}")
    try:
        return datetime(int(yyyy), MONTHS[mon.lower()], int(dd), int(hh), int(mm), int(ss))
    except ValueError:
        raise ValueError(f"not a PayPal date: {text!r}") from None


def _pacific(
    yyyy: str, mon: str, dd: str, hh: str, mm: str, ss: str, zone: str, text: str
) -> datetime:
    local = _local(yyyy, mon, dd, hh, mm, ss, text)
    offset = timedelta(hours=-7 if zone == "PDT" else -8)
    return (local - offset).replace(tzinfo=UTC)


def _decimal(value: str | None) -> Decimal | None:
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
    #: Dates that could not be read (the message is still applied, dated by its receipt).
    unreadable: list[str] = field(default_factory=list)

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
    def gross(self) -> Decimal | None:
        return _decimal(self.fields.get("mc_gross"))

    @property
    def tax(self) -> Decimal:
        return _decimal(self.fields.get("tax")) or Decimal(0)

    @property
    def fee(self) -> Decimal | None:
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

    def date(self, *names: str) -> datetime | None:
        """The first of these fields that holds a date; an unreadable one is noted in
        `unreadable` and skipped, so the caller falls back (to the receipt time)."""
        for name in names:
            try:
                value = parse_payment_date(self.fields.get(name))
            except ValueError as e:
                self.unreadable.append(f"{name}: {e}")
                continue
            if value is not None:
                return value
        return None


PAYMENT_TYPES = {"subscr_payment", "recurring_payment"}
MONEY_BACK = {
    "Refunded": FactKind.REFUNDED,
    "Reversed": FactKind.REVERSED,
    "Canceled_Reversal": FactKind.REVERSAL_CANCELLED,
}
SUBSCRIPTION_TYPES = PAYMENT_TYPES | {
    "subscr_signup",
    "subscr_modify",
    "subscr_failed",
    "subscr_cancel",
    "subscr_eot",
    "recurring_payment_profile_created",
    "recurring_payment_skipped",
    "recurring_payment_failed",
    "recurring_payment_suspended",
    "recurring_payment_suspended_due_to_max_failed_payment",
    "recurring_payment_profile_cancel",
    "recurring_payment_expired",
}


def interpret_body(raw: bytes, received_at: datetime) -> Interpretation:
    """The IPN channel's *interpret*: raw bytes as stored -> a channel-neutral reading."""
    return interpret(IpnMessage(decode_body(raw)[0]), received_at)


def interpret(msg: IpnMessage, received_at: datetime) -> Interpretation:
    """Turn one IPN into facts. Keys make a re-delivered message the same fact.

    Never raises on bad input: what cannot be read is said in `error`.
    """
    base = Interpretation(
        summary="",
        event=msg.txn_type,
        txn_id=msg.get("txn_id"),
        status=msg.payment_status,
        subscription_ref=msg.subscription_ref,
        member_token=msg.custom,
        plan_refs=plan_refs(msg),
        payer_email=msg.get("payer_email"),
        payer_name=payer_name(
            msg.get("first_name"), msg.get("last_name"), msg.get("payer_business_name")
        ),
        receiver=Receiver((msg.get("receiver_email"), msg.get("business")), msg.get("receiver_id")),
        is_test=msg.is_test,
        money=Money(msg.gross, msg.currency, msg.tax, msg.fee),
    )
    try:
        summary, facts, extra = _read(msg, received_at)
    except ValueError as e:
        return replace(base, summary="unreadable", error=f"cannot read the message: {e}")
    warnings = tuple(f"unreadable date, dated by its receipt instead ({w})" for w in msg.unreadable)
    return replace(base, summary=summary, facts=tuple(facts), warnings=warnings, **extra)


def _read(msg: IpnMessage, received_at: datetime) -> tuple[str, list[Fact], dict[str, Any]]:
    """(summary, facts, extra Interpretation fields) for one message; ValueError if unreadable."""
    t, status, txn = msg.txn_type, msg.payment_status, msg.get("txn_id")
    track = msg.get("ipn_track_id")

    if status in MONEY_BACK and msg.get("parent_txn_id"):
        parent = msg.get("parent_txn_id")
        at = msg.date("payment_date") or received_at
        fact = Fact(
            MONEY_BACK[status], at, key=f"{txn}:{status}:{t}", txn_id=parent, amount=msg.gross
        )
        return (
            f"{status} {msg.gross} {msg.currency} of payment {parent}",
            [fact],
            {"parent_txn_id": parent},
        )
    if t in ONE_TIME_TYPES:
        return one_time_payment(msg, received_at)
    if t not in SUBSCRIPTION_TYPES:
        return f"not a subscription message (txn_type={t or 'none'})", [], {"relevant": False}

    if t in PAYMENT_TYPES:
        at = msg.date("payment_date") or received_at
        kind = PAYMENT_KINDS.get(status)
        if kind is None or not txn:
            return f"{t} with payment_status {status or 'none'}: noted", [], {}
        fact = Fact(kind, at, key=f"{txn}:{status}:{t}", txn_id=txn, amount=msg.gross)
        extra: dict[str, Any] = {}
        if kind is not FactKind.PAYMENT_FAILED and msg.gross is not None:
            tax = _decimal(msg.fields.get("tax"))  # not `msg.tax`: absent stays None
            extra["payment"] = PaymentInfo(txn, status, msg.gross, msg.currency, msg.fee, at, tax)
        return f"payment {txn} {status} {msg.gross} {msg.currency}", [fact], extra

    if t == "subscr_signup":
        at = msg.date("subscr_date") or received_at
        facts = [Fact(FactKind.STARTED, at, key=f"subscr_signup:{msg.get('subscr_date')}")]
        trial = _free_trial_until(msg, at)
        if trial is not None:
            facts.append(Fact(FactKind.TRIAL, at, key="trial", until=trial))
        terms = {"terms": reported_terms(msg), "terms_event": "signup", "terms_at": at}
        return "signup" + (" with a free trial" if trial else ""), facts, terms
    if t == "recurring_payment_profile_created":
        at = msg.date("time_created") or received_at
        return "profile created", [Fact(FactKind.STARTED, at, key="profile_created")], {}
    if t == "subscr_modify":
        at = msg.date("subscr_effective") or msg.date("subscr_date") or received_at
        terms = {"terms": reported_terms(msg), "terms_event": "change", "terms_at": at}
        return "terms changed at PayPal (applies to later payments)", [], terms
    if t in ("subscr_failed", "recurring_payment_skipped", "recurring_payment_failed"):
        at = msg.date("payment_date") or received_at
        key = f"{t}:{msg.get('payment_date') or track}"
        return "renewal payment failed", [Fact(FactKind.PAYMENT_FAILED, at, key=key)], {}
    if t in ("subscr_cancel", "recurring_payment_profile_cancel"):
        at = msg.date("subscr_date") or received_at
        return "cancelled: no more renewals", [Fact(FactKind.CANCELLED, at, key="cancelled")], {}
    if t == "recurring_payment_suspended":
        return "suspended", [Fact(FactKind.SUSPENDED, received_at, key=f"{t}:{track}")], {}
    # subscr_eot, recurring_payment_expired, ..._suspended_due_to_max_failed_payment
    return (
        "end of term: no renewals, no grace",
        [Fact(FactKind.ENDED, received_at, key="ended")],
        {},
    )


def _period(text: str) -> tuple[int, PeriodUnit] | None:
    """`1 M` -> (1, MONTH); anything else -> None."""
    parts = text.split()
    units = {u.value for u in PeriodUnit}
    if len(parts) != 2 or not parts[0].isdigit() or parts[1].upper() not in units:
        return None
    return int(parts[0]), PeriodUnit(parts[1].upper())


def plan_refs(msg: IpnMessage) -> tuple[PlanRef, ...]:
    """Everything in the message that can name a plan, most specific first.

    Profile-style messages (recurring_payment*) carry no item_number; their product name
    or description is what names the plan there. A button message with neither an
    item_number nor a button id is named by its item_name alone (never when either is
    there: an item number naming no plan is not overruled by a name).
    """
    refs = [
        PlanRef(PlanRefKind.BUTTON, msg.get("btn_id") or msg.get("hosted_button_id")),
        PlanRef(PlanRefKind.ITEM_NUMBER, msg.get("item_number") or msg.get("item_number1")),
    ]
    if msg.txn_type.startswith("recurring_payment") or msg.get("recurring_payment_id"):
        refs += [
            PlanRef(PlanRefKind.PROFILE, msg.get("product_name")),
            PlanRef(PlanRefKind.PROFILE, msg.get("item_name")),
        ]
    elif not any(r.value for r in refs):
        refs.append(PlanRef(PlanRefKind.ITEM_NAME, msg.get("item_name")))
    return tuple(r for r in refs if r.value)


def reported_terms(msg: IpnMessage) -> AgreedTerms | None:
    """The terms a signup or modify message reports; None if it names no regular terms.

    Trials are period1/amount1 and period2/amount2; `recur_times` counts the regular
    payments of a subscription that stops by itself (src=1&srt=N)."""
    price = _amount(msg, 3)
    regular = _period(msg.get("period3"))
    if price is None or regular is None:
        return None
    trial, second = _period(msg.get("period1")), _period(msg.get("period2"))
    recurring = msg.get("recurring") == "1"
    cycles = msg.get("recur_times")
    return AgreedTerms(
        price=price,
        currency=msg.currency,
        period_count=regular[0],
        period_unit=regular[1],
        trial_count=trial[0] if trial else None,
        trial_unit=trial[1] if trial else None,
        trial_price=_amount(msg, 1) if trial else None,
        cycles=int(cycles) if recurring and cycles.isdigit() and int(cycles) > 0 else None,
        recurring=recurring,
        trial2_count=second[0] if second else None,
        trial2_unit=second[1] if second else None,
        trial2_price=_amount(msg, 2) if second else None,
    )


def _amount(msg: IpnMessage, n: int) -> Decimal | None:
    """mc_amountN (any currency), else amountN (USD only)."""
    return _decimal(msg.fields.get(f"mc_amount{n}") or msg.fields.get(f"amount{n}"))


def _free_trial_until(msg: IpnMessage, start: datetime) -> datetime | None:
    """The end of the free trials the signup begins with (period1, then period2 if also
    free); None when the first trial is paid for or there is none."""
    until = None
    for n in (1, 2):
        period = _period(msg.get(f"period{n}"))
        if period is None or _amount(msg, n) != 0:
            break
        until = add_period(until or start, period[0], period[1])
    return until
