"""REST webhook events, pure: read PayPal's event JSON, parse its RFC 3339 times, and turn
each subscription or sale event into a channel-neutral interpretation (PAYPAL.md §5).

The twin of `ipn.py`. Keys are chosen so that the same change reported by a webhook and by
the Subscriptions API (`api_answers.py`) is one fact, and a cancellation one fact with IPN's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from ..rules.facts import Fact, FactKind
from ..rules.interpretation import Interpretation, Money, PaymentInfo, PlanRef
from ..rules.statuses import PlanRefKind

#: `2026-01-15T12:00:00Z`, `...12:00:00.123456789+02:00`: seconds required, `T` and an offset
#: (or Z) required, ASCII digits only (RFC 3339 §5.6).
RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)
#: PayPal's money `value`: a plain decimal string, at most 32 characters.
AMOUNT_RE = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
#: What the database holds (Numeric(12, 2)); anything larger is not a real payment.
MAX_AMOUNT = Decimal(10) ** 10
#: PayPal's ids (I-..., P-..., sale and refund ids) are at most 50 characters; ours hold 64.
MAX_ID = 64
SALE_LINK_RE = re.compile(r"/v1/payments/sale/([A-Za-z0-9-]+)/?\Z")


def parse_rfc3339(text: object) -> datetime | None:
    """An RFC 3339 time -> aware UTC; nothing -> None; ValueError if it is anything else.

    Stricter than `datetime.fromisoformat`: no date alone, no naive time, no week dates.
    Fractions beyond microseconds are cut, not rounded.
    """
    if text is None or text == "":
        return None
    m = RFC3339_RE.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"not an RFC 3339 time: {_show(text)}")
    yyyy, mo, dd, hh, mi, ss, frac, zulu, sign, oh, om = m.groups()
    try:
        micro = int((frac or "0")[:6].ljust(6, "0"))
        local = datetime(int(yyyy), int(mo), int(dd), int(hh), int(mi), int(ss), micro)
        if zulu:
            return local.replace(tzinfo=UTC)
        if int(oh) > 23 or int(om) > 59:
            raise ValueError("offset out of range")
        offset = timedelta(hours=int(oh), minutes=int(om)) * (1 if sign == "+" else -1)
        return (local - offset).replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"not an RFC 3339 time: {_show(text)}") from None


def rfc3339(at: datetime) -> str:
    """The canonical form used in keys and documents: UTC, whole seconds, `Z`."""
    if at.tzinfo is None:
        raise ValueError("a naive datetime has no place in PayPal's times")
    u = at.astimezone(UTC)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}Z"


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number PayPal sends")


def load_object(body: bytes) -> dict[str, Any]:
    """The JSON object in `body` (numbers as exact decimals); ValueError if it is not one."""
    try:
        data = json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, bad UTF-8, an integer too long to convert
        raise ValueError(f"not JSON ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"not a JSON object but a {type(data).__name__}")
    return data


@dataclass(frozen=True)
class Json:
    """Typed access to one JSON object by dotted path (`"amount.total"`).

    Missing and null read as empty; a value of the wrong type is a ValueError (the whole
    message is unreadable). Times that cannot be read are noted in `unreadable` and read as
    None, so the caller falls back to the receipt time, as `ipn.IpnMessage.date` does.
    """

    data: dict[str, Any]
    unreadable: list[str] = field(default_factory=list)

    def raw(self, path: str) -> Any:
        value: Any = self.data
        for part in path.split("."):
            if value is None:
                return None
            if not isinstance(value, dict):
                raise ValueError(f"{path}: {part!r} is inside a {type(value).__name__}")
            value = value.get(part)
        return value

    def text(self, path: str) -> str:
        value = self.raw(path)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ValueError(f"{path} is not a string: {_show(value)}")
        return value.strip()

    def ident(self, path: str) -> str:
        """A PayPal id: a string of at most MAX_ID characters."""
        value = self.text(path)
        if len(value) > MAX_ID:
            raise ValueError(f"{path} is too long for a PayPal id: {_show(value)}")
        return value

    def obj(self, path: str) -> Json:
        value = self.raw(path)
        if value is None:
            return Json({}, self.unreadable)
        if not isinstance(value, dict):
            raise ValueError(f"{path} is not an object: {_show(value)}")
        return Json(value, self.unreadable)

    def items(self, path: str) -> list[Json]:
        value = self.raw(path)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ValueError(f"{path} is not a list of objects: {_show(value)}")
        return [Json(v, self.unreadable) for v in value]

    def flag(self, path: str) -> bool:
        value = self.raw(path)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise ValueError(f"{path} is not true or false: {_show(value)}")
        return value

    def count(self, path: str) -> int | None:
        value = self.raw(path)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{path} is not a whole number: {_show(value)}")
        return value

    def amount(self, path: str) -> Decimal | None:
        """A money value (PayPal sends strings; plain JSON numbers are read exactly too)."""
        value = self.raw(path)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise ValueError(f"{path} is not an amount: {_show(value)}")
        text = str(value).strip()
        try:
            if len(text) > 32 or not AMOUNT_RE.fullmatch(text):
                raise InvalidOperation
            amount = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{path} is not an amount: {_show(value)}") from None
        if abs(amount) >= MAX_AMOUNT:
            raise ValueError(f"{path} is out of range: {_show(value)}")
        return amount

    def time(self, *paths: str) -> datetime | None:
        """The first of these fields that holds a readable time; unreadable ones are noted."""
        for path in paths:
            try:
                value = parse_rfc3339(self.raw(path))
            except ValueError as e:
                self.unreadable.append(f"{path}: {e}")
                continue
            if value is not None:
                return value
        return None

    def stamp(self, *paths: str) -> str:
        """The first of these times as a key part: canonical if readable, else as written."""
        for path in paths:
            raw = self.raw(path)
            try:
                value = parse_rfc3339(raw)
            except ValueError:
                return str(raw)[:MAX_ID]
            if value is not None:
                return rfc3339(value)
        return ""


def date_warnings(unreadable: list[str]) -> tuple[str, ...]:
    return tuple(f"unreadable date, dated by its receipt instead ({w})" for w in unreadable)


# -- subscriptions: shared with api_answers ------------------------------------------------


def subscription_fields(sub: Json) -> dict[str, Any]:
    """The Interpretation fields any subscription resource gives (v2 `status`, v1 `state`)."""
    plan_id = sub.ident("plan_id")
    return {
        "subscription_ref": sub.ident("id"),
        "member_token": sub.text("custom_id"),
        "plan_refs": (PlanRef(PlanRefKind.REST_PLAN, plan_id),) if plan_id else (),
        "payer_email": sub.text("subscriber.email_address"),
        "status": sub.text("status") or sub.text("state"),
    }


def subscription_change(
    change: str, sub: Json, received_at: datetime, fallback: str
) -> tuple[str, list[Fact], list[str]]:
    """(summary, facts, warnings) for one change of a subscription resource.

    `change` is one of noted, activated, reactivated, suspended, cancelled, expired:
    webhooks name it by event type, the API by the status it reports. `fallback` stands in
    a key when the resource has no time at all (the event id; for the API the time it was
    asked), so that a re-delivery is still the same fact.
    """
    if change == "activated":
        return _activated(sub, received_at)
    if change not in ("reactivated", "suspended", "cancelled", "expired"):
        status = sub.text("status") or sub.text("state") or "none"
        return f"subscription {status}: noted", [], []
    changed = sub.time("status_update_time", "update_time") or received_at
    stamp = sub.stamp("status_update_time", "update_time") or fallback
    if change == "reactivated":
        fact = Fact(FactKind.REACTIVATED, changed, key=f"reactivated:{stamp}")
        return "re-activated: renewals resume", [fact], []
    if change == "suspended":
        fact = Fact(FactKind.SUSPENDED, changed, key=f"suspended:{stamp}")
        return "suspended: renewals paused", [fact], []
    if change == "cancelled":  # the key IPN's subscr_cancel uses: one fact whoever says it
        fact = Fact(FactKind.CANCELLED, changed, key="cancelled")
        return "cancelled: no more renewals", [fact], []
    fact = Fact(FactKind.ENDED, changed, key="ended")
    return "expired: end of term, no renewals, no grace", [fact], []


def _activated(sub: Json, received_at: datetime) -> tuple[str, list[Fact], list[str]]:
    at = sub.time("status_update_time", "start_time") or received_at
    facts = [Fact(FactKind.STARTED, at, key="activated")]
    warnings: list[str] = []
    if sub.flag("plan_overridden"):
        warnings.append(
            "the subscription overrides the plan's terms (plan_overridden): no trial is "
            "granted from it; check what PayPal charges against the plan"
        )
        return "activated (plan overridden)", facts, warnings
    until = _free_trial_until(sub, at, warnings)
    if until is None:
        return "activated", facts, warnings
    facts.append(Fact(FactKind.TRIAL, at, key="trial", until=until))
    return f"activated with a free trial until {rfc3339(until)}", facts, warnings


def _free_trial_until(sub: Json, at: datetime, warnings: list[str]) -> datetime | None:
    """The end of a free trial that has begun, or None.

    PayPal counts a cycle as executed when it starts. Right after activation the trial
    cycle is not executed yet and `next_billing_time` is the activation day, not the end of
    the trial (paypal/paypal-checkout-components#1336): no trial is read from that; the
    next answer (asking the API) has the trial executed and the true end. A trial is free
    only if nothing was charged: the subscription names no prices, and a paid trial (or a
    setup fee) gives access by its payments, so counting it as a trial too would give
    one period twice.
    """
    cycles = sub.items("billing_info.cycle_executions")
    kinds = [(c.text("tenure_type").upper(), c.count("cycles_completed") or 0) for c in cycles]
    if not any(k == "TRIAL" and done > 0 for k, done in kinds):
        return None
    if any(k == "REGULAR" and done > 0 for k, done in kinds):
        return None  # the trial is over
    until = sub.time("billing_info.next_billing_time")
    if until is None or until <= at:
        return None
    paid = sub.amount("billing_info.last_payment.amount.value")
    if paid:
        warnings.append(
            f"a trial has begun but {paid} was charged (a paid trial or a setup fee): no "
            "free trial is granted; the payments give access"
        )
        return None
    return until


# -- events ---------------------------------------------------------------------------------

SUBSCRIPTION_EVENTS = {
    "BILLING.SUBSCRIPTION.CREATED": "noted",
    "BILLING.SUBSCRIPTION.UPDATED": "noted",
    "BILLING.SUBSCRIPTION.ACTIVATED": "activated",
    "BILLING.SUBSCRIPTION.RE-ACTIVATED": "reactivated",
    "BILLING.SUBSCRIPTION.SUSPENDED": "suspended",
    "BILLING.SUBSCRIPTION.CANCELLED": "cancelled",
    "BILLING.SUBSCRIPTION.EXPIRED": "expired",
    "BILLING.SUBSCRIPTION.PAYMENT.FAILED": "failed",
}
SALE_EVENTS = {
    "PAYMENT.SALE.COMPLETED",
    "PAYMENT.SALE.PENDING",
    "PAYMENT.SALE.DENIED",
    "PAYMENT.SALE.REFUNDED",
    "PAYMENT.SALE.REVERSED",
}


def event_id(body: bytes) -> str:
    """The event's own id (`WH-...`, the same on every re-delivery); "" if unreadable."""
    try:
        value = load_object(body).get("id")
    except ValueError:
        return ""
    return value.strip()[:MAX_ID] if isinstance(value, str) else ""


def interpret_event(body: bytes, received_at: datetime) -> Interpretation:
    """The webhook channel's *interpret*: raw bytes as stored -> a channel-neutral reading.

    Never raises on bad input: what cannot be read is said in `error`. The signature proves
    who sent it and from which environment, so `receiver` and `is_test` stay None.
    """
    try:
        event = Json(load_object(body))
        base = Interpretation(summary="", event=event.text("event_type")[:64])
    except ValueError as e:
        return Interpretation(summary="unreadable", error=f"cannot read the event: {e}")
    try:
        return _read(event, base, received_at)
    except ValueError as e:
        return replace(base, summary="unreadable", error=f"cannot read the event: {e}")


def _read(event: Json, base: Interpretation, received_at: datetime) -> Interpretation:
    kind = base.event
    if not kind:
        raise ValueError("the event names no event_type")
    if kind not in SALE_EVENTS and not kind.startswith("BILLING.SUBSCRIPTION."):
        return replace(
            base, summary=f"{kind}: about another product; stored and ignored", relevant=False
        )
    resource = event.obj("resource")
    if not resource.data:
        raise ValueError("the event has no resource")
    if kind in SALE_EVENTS:
        return _sale(kind, resource, base, received_at)
    fields = subscription_fields(resource)
    if not fields["subscription_ref"]:
        raise ValueError("the subscription has no id")
    fallback = f"event:{event.ident('id')}"
    change = SUBSCRIPTION_EVENTS.get(kind, "noted")
    if change == "failed":
        summary, facts, warnings = _failed(resource, event, received_at, fallback)
    else:
        summary, facts, warnings = subscription_change(change, resource, received_at, fallback)
    return replace(
        base,
        summary=summary,
        facts=tuple(facts),
        warnings=tuple(warnings) + date_warnings(resource.unreadable),
        **fields,
    )


def _failed(
    sub: Json, event: Json, received_at: datetime, fallback: str
) -> tuple[str, list[Fact], list[str]]:
    """A renewal failed: dated by `billing_info.last_failed_payment.time`, else by when
    PayPal sent the event. Not by the subscription's `update_time`: PayPal's own sample
    leaves it weeks before the failure, and one date for every retry would make them one."""
    failed = sub.obj("billing_info.last_failed_payment")
    at = failed.time("time") or event.time("create_time") or received_at
    key = f"failed:{failed.stamp('time') or event.stamp('create_time') or fallback}"
    return "renewal payment failed", [Fact(FactKind.PAYMENT_FAILED, at, key=key)], []


def _sale(kind: str, res: Json, base: Interpretation, received_at: datetime) -> Interpretation:
    """PAYMENT.SALE.*: a sale (COMPLETED, PENDING, DENIED), a refund or a reversal."""
    own_id, state = res.ident("id"), res.text("state")
    if not own_id:
        raise ValueError("the sale has no id")
    agreement = res.ident("billing_agreement_id")
    base = replace(base, txn_id=own_id, status=state, subscription_ref=agreement)
    if not agreement and kind not in ("PAYMENT.SALE.REFUNDED", "PAYMENT.SALE.REVERSED"):
        return replace(
            base,
            summary=f"sale {own_id} is a one-off payment (no billing agreement): about "
            "another product; stored and ignored",
            relevant=False,
        )
    # `custom` is the subscription's custom_id in the stand-in's sales; real ones often
    # carry none (the subscription events have it).
    base = replace(base, member_token=res.text("custom"))
    if kind in ("PAYMENT.SALE.REFUNDED", "PAYMENT.SALE.REVERSED"):
        return _money_back(kind, own_id, state, res, base, received_at)
    total, currency = res.amount("amount.total"), res.text("amount.currency")
    if kind == "PAYMENT.SALE.DENIED":
        at = res.time("update_time", "create_time") or received_at
        fact = Fact(
            FactKind.PAYMENT_FAILED, at, key=f"{own_id}:Denied", txn_id=own_id, amount=total
        )
        return replace(
            base,
            summary=f"payment {own_id} denied",
            facts=(fact,),
            warnings=date_warnings(res.unreadable),
        )
    status = "Completed" if kind == "PAYMENT.SALE.COMPLETED" else "Pending"
    if state.lower() != status.lower():
        return replace(base, summary=f"{kind} for a sale in state {state or 'none'}: noted")
    if total is None:
        raise ValueError("the sale names no amount")
    fee, tax = res.amount("transaction_fee.value"), res.amount("amount.details.tax")
    at = res.time("create_time") or received_at
    kind_of = FactKind.PAYMENT_COMPLETED if status == "Completed" else FactKind.PAYMENT_PENDING
    fact = Fact(kind_of, at, key=f"{own_id}:{status}", txn_id=own_id, amount=total)
    return replace(
        base,
        summary=f"payment {own_id} {status} {total} {currency}",
        facts=(fact,),
        payment=PaymentInfo(own_id, status, total, currency, fee, at),
        money=Money(total, currency, tax or Decimal(0), fee),
        warnings=date_warnings(res.unreadable),
    )


def _money_back(
    kind: str, own_id: str, state: str, res: Json, base: Interpretation, received_at: datetime
) -> Interpretation:
    """A refund names its sale in `sale_id` (and a `sale` link). A reversal may be the sale
    itself in state `reversed`; PayPal's own sample reversal names no sale at all: then an
    admin must match it (`parent_payment` is the PAY- payment, never a sale)."""
    sale = res.ident("sale_id") or _linked_sale(res)
    if not sale and state.lower() == "reversed":
        sale = own_id
    word = "Refunded" if kind == "PAYMENT.SALE.REFUNDED" else "Reversed"
    if not sale:
        raise ValueError(f"the {word.lower()} transaction {own_id} names no sale it takes back")
    total, currency = res.amount("amount.total"), res.text("amount.currency")
    if word == "Refunded" and total is None:
        raise ValueError(f"refund {own_id} names no amount")
    amount = abs(total) if total is not None else None
    at = res.time("create_time", "update_time") or received_at
    fact_kind = FactKind.REFUNDED if word == "Refunded" else FactKind.REVERSED
    fact = Fact(fact_kind, at, key=f"{own_id}:{word}", txn_id=sale, amount=amount)
    return replace(
        base,
        summary=f"{word} {amount if amount is not None else ''} {currency} of payment {sale}",
        parent_txn_id=sale,
        facts=(fact,),
        # Money leaving the merchant is negative, as IPN reports it; no PaymentInfo (IPN
        # records none for money back either: the payment's row is the parent's).
        money=Money(-amount if amount is not None else None, currency),
        warnings=date_warnings(res.unreadable),
    )


def _linked_sale(res: Json) -> str:
    for link in res.items("links"):
        if link.text("rel") == "sale" and (m := SALE_LINK_RE.search(link.text("href"))):
            return m.group(1)[:MAX_ID]
    return ""
