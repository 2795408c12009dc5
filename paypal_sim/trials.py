"""Trial periods as PayPal bills them: up to two before the regular cycles, each free or
paid. A paid trial is charged when it begins (a1 at signup); the regular cycles start when
the last trial ends; `recur_times`/`total_cycles` counts regular payments only."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .clock import add_period
from .state import Subscription

UNITS = ("D", "W", "M", "Y")


def trials_of(sub: Subscription) -> list[tuple[Decimal, int, str]]:
    """(amount, count, unit) of each trial, in order."""
    found = []
    for amount, count, unit in (
        (sub.trial_amount, sub.trial_count, sub.trial_unit),
        (sub.trial2_amount, sub.trial2_count, sub.trial2_unit),
    ):
        if count and unit:
            found.append((amount or Decimal(0), count, unit))
    return found


def from_button(sub: Subscription, form: dict[str, str]) -> None:
    """a1/p1/t1 and a2/p2/t2 of a Standard button (a second trial needs a first)."""
    if form.get("a1") is None or not form.get("p1") or not form.get("t1"):
        return
    sub.trial_amount = Decimal(form["a1"])
    sub.trial_count, sub.trial_unit = int(form["p1"]), form["t1"].upper()
    if form.get("a2") is not None and form.get("p2") and form.get("t2"):
        sub.trial2_amount = Decimal(form["a2"])
        sub.trial2_count, sub.trial2_unit = int(form["p2"]), form["t2"].upper()


def button_problem(form: dict[str, str]) -> str:
    """Why PayPal would refuse the button's trial fields, or ""."""
    for n in ("1", "2"):
        if not form.get(f"p{n}"):
            continue
        try:
            if Decimal(form.get(f"a{n}", "")) < 0 or int(form[f"p{n}"]) <= 0:
                return f"a{n}/p{n} must not be negative."
        except (InvalidOperation, ValueError):
            return f"a{n}/p{n} (a trial) must be numbers."
        if form.get(f"t{n}", "").upper() not in UNITS:
            return f"t{n} must be D, W, M or Y."
    if form.get("p2") and not form.get("p1"):
        return "a second trial (a2/p2/t2) needs a first (a1/p1/t1)."
    srt = form.get("srt", "")
    if srt and (not srt.isdigit() or not 1 <= int(srt) <= 52):
        return "srt (recurring times) must be a whole number from 1 to 52."
    return ""


def plan_trials(cycles: list[dict[str, Any]]) -> list[tuple[Decimal, int, str]]:
    """A REST plan's TRIAL billing cycles in sequence order, as (price, count, unit):
    free when the cycle has no pricing_scheme (PayPal's free trial)."""
    found = []
    for c in sorted(cycles, key=lambda c: int(c.get("sequence", 0))):
        if c.get("tenure_type") != "TRIAL":
            continue
        price = (c.get("pricing_scheme") or {}).get("fixed_price") or {}
        frequency = c["frequency"]
        unit = {"DAY": "D", "WEEK": "W", "MONTH": "M", "YEAR": "Y"}[frequency["interval_unit"]]
        amount, repeats = Decimal(price.get("value", "0")), int(c.get("total_cycles", 1) or 1)
        if amount > 0 and repeats != 1:
            raise ValueError("the stand-in bills a paid trial cycle once (total_cycles 1)")
        found.append((amount, int(frequency.get("interval_count", 1)) * repeats, unit))
    if len(found) > 2:
        raise ValueError("a plan has at most two trial cycles")
    return found


def schedule(sub: Subscription, start: datetime) -> None:
    """Lay out the trials from `start`: the paid ones' charges, and the regular anchor."""
    at, bills = start, []
    for amount, count, unit in trials_of(sub):
        if amount > 0:
            bills.append((at, amount))
        at = add_period(at, count, unit)
    sub.anchor, sub.trial_bills = at, bills
    sub.next_billing = bills[0][0] if bills else at
