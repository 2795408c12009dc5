"""What a member agreed to pay, and how it compares with what we offered (pure).

A subscription's terms are recorded per subscription: what our checkout offered, what
PayPal reports at signup, and later changes. A signup whose terms differ from the offer
grants nothing; payments are checked against the terms in force when they were made,
never against a plan's current price (docs/architecture.md, "Terms").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from .entitlements import Terms
from .periods import PeriodUnit, add_period


@dataclass(frozen=True)
class AgreedTerms:
    """Price, currency and period of one subscription, with its trial and cycles."""

    price: Decimal
    currency: str
    period_count: int
    period_unit: PeriodUnit
    trial_count: int | None = None
    trial_unit: PeriodUnit | None = None
    trial_price: Decimal | None = None
    #: How many regular payments in all; None: until cancelled.
    cycles: int | None = None
    #: False for a one-off payment that does not renew.
    recurring: bool = True
    #: A second trial period (PayPal's a2/p2/t2); we never offer one.
    second_trial: str | None = None
    #: A pass (docs/passes.md): one payment buys the period once (or lifetime); no renewal.
    one_time: bool = False
    lifetime: bool = False

    @property
    def billing_period(self) -> Terms:
        return Terms(self.period_count, self.period_unit, self.one_time, self.lifetime)

    def trial_end(self, start: datetime) -> datetime | None:
        if self.trial_count is None or self.trial_unit is None:
            return None
        return add_period(start, self.trial_count, self.trial_unit)

    def describe(self) -> str:
        trial = ""
        if self.trial_count and self.trial_unit:
            price = "free" if not self.trial_price else f"{self.trial_price} {self.currency}"
            trial = f"{price} trial of {self.trial_count} {self.trial_unit.value}, then "
        cycles = f", {self.cycles} times" if self.cycles else ""
        every = f"every {self.period_count} {self.period_unit.value}" if self.recurring else "once"
        if self.one_time:
            term = "lifetime" if self.lifetime else f"{self.period_count} {self.period_unit.value}"
            return f"{self.price} {self.currency} once for a pass of {term}"
        return f"{trial}{self.price} {self.currency} {every}{cycles}"

    def to_json(self) -> dict[str, Any]:
        return {
            "price": str(self.price),
            "currency": self.currency,
            "period_count": self.period_count,
            "period_unit": self.period_unit.value,
            "trial_count": self.trial_count,
            "trial_unit": self.trial_unit.value if self.trial_unit else None,
            "trial_price": str(self.trial_price) if self.trial_price is not None else None,
            "cycles": self.cycles,
            "recurring": self.recurring,
            "second_trial": self.second_trial,
        } | (  # only on passes: every subscription's stored terms stay as they were
            {"one_time": True, "lifetime": self.lifetime} if self.one_time else {}
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AgreedTerms:
        return cls(
            price=Decimal(data["price"]),
            currency=data["currency"],
            period_count=int(data["period_count"]),
            period_unit=PeriodUnit(data["period_unit"]),
            trial_count=data.get("trial_count"),
            trial_unit=PeriodUnit(data["trial_unit"]) if data.get("trial_unit") else None,
            trial_price=Decimal(data["trial_price"]) if data.get("trial_price") else None,
            cycles=data.get("cycles"),
            recurring=bool(data.get("recurring", True)),
            second_trial=data.get("second_trial"),
            one_time=bool(data.get("one_time", False)),
            lifetime=bool(data.get("lifetime", False)),
        )


def normalised(terms: AgreedTerms) -> AgreedTerms:
    """A trial of no length is no trial; a free trial's price is 0."""
    if not terms.trial_count or terms.trial_unit is None:
        return replace(terms, trial_count=None, trial_unit=None, trial_price=None)
    return replace(terms, trial_price=terms.trial_price or Decimal(0))


def differences(offered: AgreedTerms, reported: AgreedTerms) -> list[str]:
    """Each way the terms PayPal reports differ from what we offered, in words."""
    a, b = normalised(offered), normalised(reported)
    found = []
    if a.currency != b.currency:
        found.append(f"currency {b.currency or 'none'} instead of {a.currency}")
    if a.price != b.price:
        found.append(f"price {b.price} instead of {a.price}")
    if (a.period_count, a.period_unit) != (b.period_count, b.period_unit):
        found.append(
            f"period {b.period_count} {b.period_unit.value} instead of "
            f"{a.period_count} {a.period_unit.value}"
        )
    if (a.trial_count, a.trial_unit, a.trial_price) != (b.trial_count, b.trial_unit, b.trial_price):
        found.append(f"trial {_trial(b)} instead of {_trial(a)}")
    if b.second_trial:
        found.append(f"a second trial ({b.second_trial}) we never offer")
    if (a.one_time, a.lifetime) != (b.one_time, b.lifetime):
        found.append(f"{_kind(b)} instead of {_kind(a)}")
    if a.recurring != b.recurring:
        found.append("a one-off payment instead of a renewing subscription")
    if a.cycles != b.cycles:
        found.append(f"{b.cycles or 'unlimited'} payments instead of {a.cycles or 'unlimited'}")
    return found


def _kind(t: AgreedTerms) -> str:
    if not t.one_time:
        return "a subscription"
    return "a lifetime pass" if t.lifetime else "a pass"


def _trial(t: AgreedTerms) -> str:
    if t.trial_count is None or t.trial_unit is None:
        return "none"
    return f"{t.trial_count} {t.trial_unit.value} at {t.trial_price}"


def expected_amounts(
    terms: AgreedTerms, started: datetime | None, paid_at: datetime
) -> set[Decimal]:
    """What a completed payment made at `paid_at` may amount to under these terms."""
    amounts = {terms.price}
    trial_end = terms.trial_end(started) if started else None
    if terms.trial_price and trial_end is not None and paid_at < trial_end:
        amounts.add(terms.trial_price)
    return amounts
