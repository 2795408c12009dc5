"""REST billing plans: creation (API body or start-up config), JSON form, create/get endpoints."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import jsonify

from .engine import Sim
from .errors import api_error
from .formats import money, new_id, rfc3339
from .rest_base import bp, current_sim, json_body
from .rest_oauth import bearer
from .state import Plan
from .trials import plan_trials

UNIT_OF = {"DAY": "D", "WEEK": "W", "MONTH": "M", "YEAR": "Y"}
INTERVAL_OF = {v: k for k, v in UNIT_OF.items()}


def create_plan_from(sim: Sim, spec: dict[str, Any]) -> Plan:
    """A plan from a REST body (billing_cycles) or a short form {id, name, price, ...}."""
    cycles = spec.get("billing_cycles")
    if cycles:
        regular = next(c for c in cycles if c.get("tenure_type") == "REGULAR")
        price = regular["pricing_scheme"]["fixed_price"]
        plan = Plan(
            id=spec.get("id") or new_id("P-", 24),
            product_id=spec.get("product_id", ""),
            name=spec.get("name", ""),
            price=Decimal(price["value"]),
            currency=price["currency_code"],
            interval_unit=regular["frequency"]["interval_unit"],
            interval_count=int(regular["frequency"].get("interval_count", 1)),
            total_cycles=int(regular.get("total_cycles", 0)),
            trials=plan_trials(cycles),
            payment_failure_threshold=int(
                spec.get("payment_preferences", {}).get("payment_failure_threshold", 3)
            ),
        )
    else:
        plan = Plan(
            id=spec.get("id") or new_id("P-", 24),
            product_id=spec.get("product_id", ""),
            name=spec["name"],
            price=Decimal(str(spec["price"])),
            currency=spec.get("currency", "USD"),
            interval_unit=spec.get("interval_unit", "MONTH"),
            interval_count=int(spec.get("interval_count", 1)),
            total_cycles=int(spec.get("total_cycles", 0)),
        )
        if spec.get("trial_unit"):  # the short form's trial is a free one
            unit = UNIT_OF[spec["trial_unit"]]
            plan.trials = [(Decimal(0), int(spec.get("trial_count", 1)), unit)]
    if plan.interval_unit not in ("DAY", "WEEK", "MONTH", "YEAR"):
        raise ValueError("interval_unit must be DAY, WEEK, MONTH or YEAR")
    plan.create_time = sim.clock.now()
    sim.world.plans[plan.id] = plan
    return plan


def plan_json(plan: Plan) -> dict[str, Any]:
    cycles: list[dict[str, Any]] = []
    for amount, count, unit in plan.trials:
        trial: dict[str, Any] = {
            "frequency": {"interval_unit": INTERVAL_OF[unit], "interval_count": count},
            "tenure_type": "TRIAL",
            "sequence": len(cycles) + 1,
            "total_cycles": 1,
        }
        if amount > 0:
            trial["pricing_scheme"] = {
                "fixed_price": {"value": money(amount), "currency_code": plan.currency}
            }
        cycles.append(trial)
    cycles.append(
        {
            "frequency": {
                "interval_unit": plan.interval_unit,
                "interval_count": plan.interval_count,
            },
            "tenure_type": "REGULAR",
            "sequence": len(cycles) + 1,
            "total_cycles": plan.total_cycles,
            "pricing_scheme": {
                "fixed_price": {"value": money(plan.price), "currency_code": plan.currency}
            },
        }
    )
    return {
        "id": plan.id,
        "product_id": plan.product_id,
        "name": plan.name,
        "status": plan.status,
        "billing_cycles": cycles,
        "payment_preferences": {
            "payment_failure_threshold": plan.payment_failure_threshold,
            "auto_bill_outstanding": True,
        },
        "create_time": rfc3339(plan.create_time) if plan.create_time else None,
    }


@bp.route("/v1/billing/plans", methods=["POST"])
@bearer
def plans_create():
    try:
        plan = create_plan_from(current_sim(), json_body())
    except (KeyError, StopIteration, TypeError, ValueError, InvalidOperation) as e:
        return api_error("INVALID_REQUEST", "INVALID_PARAMETER_SYNTAX", f"bad plan: {e}")
    return jsonify(plan_json(plan)), 201


@bp.route("/v1/billing/plans/<plan_id>")
@bearer
def plans_get(plan_id: str):
    plan = current_sim().world.plans.get(plan_id)
    if plan is None:
        return api_error("RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "plan not found")
    return jsonify(plan_json(plan))
