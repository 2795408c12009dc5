"""A REST billing plan's body from a plan's terms, and the terms of a plan PayPal shows (pure).

PayPal's plan lists billing cycles in `sequence`: up to two TRIAL cycles (free without a
pricing scheme, else at their fixed price) and one REGULAR cycle whose `total_cycles` is
the number of regular payments (0: until cancelled).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from ..rules.periods import PeriodUnit
from ..rules.terms import AgreedTerms

INTERVALS = {
    PeriodUnit.DAY: "DAY",
    PeriodUnit.WEEK: "WEEK",
    PeriodUnit.MONTH: "MONTH",
    PeriodUnit.YEAR: "YEAR",
}
UNITS = {v: k for k, v in INTERVALS.items()}


class UnreadablePlan(ValueError):
    """A plan whose cycles our terms cannot describe (said in words)."""


def _cycle(
    tenure: str, sequence: int, count: int, unit: PeriodUnit, price: Decimal, currency: str
) -> dict[str, Any]:
    cycle: dict[str, Any] = {
        "frequency": {"interval_unit": INTERVALS[unit], "interval_count": count},
        "tenure_type": tenure,
        "sequence": sequence,
        "total_cycles": 1,
    }
    if price or tenure == "REGULAR":
        cycle["pricing_scheme"] = {
            "fixed_price": {"value": f"{price:.2f}", "currency_code": currency}
        }
    return cycle


def plan_body(
    terms: AgreedTerms, product_id: str, name: str, failure_threshold: int = 3
) -> dict[str, Any]:
    """The POST /v1/billing/plans body selling exactly these terms."""
    cycles = [
        _cycle("TRIAL", n, count, unit, price, terms.currency)
        for n, (count, unit, price) in enumerate(terms.trials(), start=1)
    ]
    regular = _cycle(
        "REGULAR",
        len(cycles) + 1,
        terms.period_count,
        terms.period_unit,
        terms.price,
        terms.currency,
    )
    regular["total_cycles"] = terms.cycles or 0
    return {
        "product_id": product_id,
        "name": name[:127],
        "status": "ACTIVE",
        "billing_cycles": [*cycles, regular],
        "payment_preferences": {
            "auto_bill_outstanding": True,
            "payment_failure_threshold": failure_threshold,
        },
    }


def terms_of_plan(plan: dict[str, Any]) -> AgreedTerms:
    """The terms a PayPal plan sells; raises UnreadablePlan when ours cannot say them."""
    try:
        cycles = sorted(plan.get("billing_cycles") or [], key=lambda c: int(c["sequence"]))
        trials = [c for c in cycles if c.get("tenure_type") == "TRIAL"]
        regular = [c for c in cycles if c.get("tenure_type") == "REGULAR"]
        if len(regular) != 1 or len(trials) > 2:
            raise UnreadablePlan("a plan has one regular cycle and at most two trials")
        price, currency = _price(regular[0])
        count, unit = _frequency(regular[0])
        read: list[tuple[int | None, PeriodUnit | None, Decimal | None]] = []
        for trial in trials:
            trial_price, _ = _price(trial) if trial.get("pricing_scheme") else (Decimal(0), "")
            trial_count, trial_unit = _frequency(trial)
            repeats = int(trial.get("total_cycles", 1) or 1)
            if trial_price and repeats != 1:
                raise UnreadablePlan("a paid trial billed more than once")
            read.append((trial_count * repeats, trial_unit, trial_price))
    except (KeyError, TypeError, ValueError, InvalidOperation) as e:
        if isinstance(e, UnreadablePlan):
            raise
        raise UnreadablePlan(f"unreadable billing cycles: {e}") from None
    read += [(None, None, None)] * (2 - len(read))
    return AgreedTerms(
        price=price,
        currency=currency,
        period_count=count,
        period_unit=unit,
        trial_count=read[0][0],
        trial_unit=read[0][1],
        trial_price=read[0][2],
        cycles=int(regular[0].get("total_cycles", 0) or 0) or None,
        trial2_count=read[1][0],
        trial2_unit=read[1][1],
        trial2_price=read[1][2],
    )


def _price(cycle: dict[str, Any]) -> tuple[Decimal, str]:
    fixed = cycle["pricing_scheme"]["fixed_price"]
    return Decimal(fixed["value"]), fixed["currency_code"]


def _frequency(cycle: dict[str, Any]) -> tuple[int, PeriodUnit]:
    frequency = cycle["frequency"]
    return int(frequency.get("interval_count", 1)), UNITS[frequency["interval_unit"]]
