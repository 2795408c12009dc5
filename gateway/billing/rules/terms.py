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

from .entitlements import Terms, TrialPeriod
from .periods import PeriodUnit, add_period


@dataclass(frozen=True)
class AgreedTerms:
    """Price, currency and period of one subscription, with up to two trial periods (each
    free or paid) and the number of regular payments (None: until cancelled)."""

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
    #: A second trial period (PayPal's a2/p2/t2), after the first.
    trial2_count: int | None = None
    trial2_unit: PeriodUnit | None = None
    trial2_price: Decimal | None = None
    #: A pass (docs/passes.md): one payment buys the period once (or lifetime); no renewal.
    one_time: bool = False
    lifetime: bool = False

    def trials(self) -> list[tuple[int, PeriodUnit, Decimal]]:
        """The trial periods in order: (count, unit, price; 0 when free)."""
        found = []
        for count, unit, price in (
            (self.trial_count, self.trial_unit, self.trial_price),
            (self.trial2_count, self.trial2_unit, self.trial2_price),
        ):
            if count and unit is not None:
                found.append((count, unit, price or Decimal(0)))
        return found

    @property
    def billing_period(self) -> Terms:
        """What each payment buys (the pure core's view of these terms)."""
        if self.one_time:  # a pass: its own chain, no trials and no count of payments
            return Terms(self.period_count, self.period_unit, one_time=True, lifetime=self.lifetime)
        return Terms(
            self.period_count,
            self.period_unit,
            tuple(TrialPeriod(c, u, paid=p > 0) for c, u, p in self.trials()),
            self.cycles if self.recurring else 1,
        )

    def trial_end(self, start: datetime) -> datetime | None:
        """The end of the free trials a signup begins with (they need no payment)."""
        end = None
        for count, unit, price in self.trials():
            if price:
                break
            end = add_period(end or start, count, unit)
        return end

    def describe(self) -> str:
        trial = ""
        for count, unit, price in self.trials():
            cost = f"{price} {self.currency}" if price else "free"
            trial += f"{cost} trial of {count} {unit.value}, then "
        cycles = f", {self.cycles} times" if self.cycles else ""
        every = f"every {self.period_count} {self.period_unit.value}" if self.recurring else "once"
        if self.one_time:
            term = "lifetime" if self.lifetime else f"{self.period_count} {self.period_unit.value}"
            return f"pass: {term}, {self.price} {self.currency} once"
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
            "trial2_count": self.trial2_count,
            "trial2_unit": self.trial2_unit.value if self.trial2_unit else None,
            "trial2_price": str(self.trial2_price) if self.trial2_price is not None else None,
        } | (  # only on passes: every subscription's stored terms stay as they were
            {"one_time": True, "lifetime": self.lifetime} if self.one_time else {}
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AgreedTerms:
        second = _legacy_second_trial(data.get("second_trial"))
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
            trial2_count=data.get("trial2_count") or second[0],
            trial2_unit=PeriodUnit(data["trial2_unit"]) if data.get("trial2_unit") else second[1],
            trial2_price=Decimal(data["trial2_price"]) if data.get("trial2_price") else second[2],
            one_time=bool(data.get("one_time", False)),
            lifetime=bool(data.get("lifetime", False)),
        )


def _legacy_second_trial(
    text: str | None,
) -> tuple[int | None, PeriodUnit | None, Decimal | None]:
    """Terms recorded before two trials were described kept the second as text,
    "11.00 for 1 D" ("None for ..." when PayPal named no amount)."""
    parts = (text or "").split()
    if len(parts) != 4 or not parts[2].isdigit() or parts[3] not in {u.value for u in PeriodUnit}:
        return None, None, None
    try:
        price = Decimal(parts[0])
    except ArithmeticError:
        price = None
    return int(parts[2]), PeriodUnit(parts[3]), price


def normalised(terms: AgreedTerms) -> AgreedTerms:
    """Trials of no length are no trials (a lone second trial is the first); a free
    trial's price is 0; a renewing subscription's 0 payments mean "until cancelled"."""
    trials = terms.trials() + [(None, None, None)] * 2
    (c1, u1, p1), (c2, u2, p2) = trials[0], trials[1]
    return replace(
        terms,
        trial_count=c1,
        trial_unit=u1,
        trial_price=p1,
        trial2_count=c2,
        trial2_unit=u2,
        trial2_price=p2,
        cycles=terms.cycles or None,
    )


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
    first_a = (a.trial_count, a.trial_unit, a.trial_price)
    first_b = (b.trial_count, b.trial_unit, b.trial_price)
    if first_a != first_b:
        found.append(f"trial {_trial(*first_b)} instead of {_trial(*first_a)}")
    second_a = (a.trial2_count, a.trial2_unit, a.trial2_price)
    second_b = (b.trial2_count, b.trial2_unit, b.trial2_price)
    if second_a != second_b:
        found.append(f"second trial {_trial(*second_b)} instead of {_trial(*second_a)}")
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


def _trial(count: int | None, unit: PeriodUnit | None, price: Decimal | None) -> str:
    if count is None or unit is None:
        return "none"
    return f"{count} {unit.value} at {price}"


def expected_amounts(
    terms: AgreedTerms, started: datetime | None, paid_at: datetime
) -> set[Decimal]:
    """What a completed payment made at `paid_at` may amount to under these terms: the
    regular price, or a paid trial's price while that trial lasts (from the start)."""
    amounts = {terms.price}
    end = started
    for count, unit, price in terms.trials() if started else []:
        assert end is not None
        end = add_period(end, count, unit)
        if price and paid_at < end:
            amounts.add(price)
    return amounts


def next_price(terms: AgreedTerms, started: datetime | None, due: datetime) -> Decimal:
    """What the payment due at `due` costs: a paid trial's price if that trial begins
    then, else the regular price."""
    end = started
    for count, unit, price in terms.trials() if started else []:
        assert end is not None
        begins, end = end, add_period(end, count, unit)
        if price and begins <= due < end:
            return price
    return terms.price
