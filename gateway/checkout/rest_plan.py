"""A plan's REST billing plan at PayPal, generated from its terms (`flask plans publish`),
and the check that a plan at PayPal still sells what ours describes (`flask plans check`)."""

from __future__ import annotations

from hashlib import sha256
from json import dumps

from models import Plan

from ..billing.formats.paypal_plan import UnreadablePlan, plan_body, terms_of_plan
from ..billing.rules.terms import differences
from ..paypal.api import api_client
from ..subscriptions.recorded_terms import plan_terms


class Mismatch(Exception):
    """PayPal's plan does not sell our plan's terms (the sentence says how)."""


def publish(plan: Plan, product_id: str | None = None) -> str:
    """Create the plan at PayPal (and a product for it unless one is named), check what
    PayPal answered, and keep its id on the plan; the caller commits. Request ids make a
    retried publish of unchanged terms the same operation at PayPal."""
    api = api_client()
    terms = plan_terms(plan)
    if not product_id:
        product = api.call(
            "POST",
            "/v1/catalogs/products",
            json={"name": plan.name[:127], "type": "SERVICE"},
            request_id=f"tollgate-product-{plan.code}",
        )
        product_id = str(product["id"])
    body = plan_body(terms, product_id, plan.name)
    digest = sha256(dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    created = api.call(
        "POST", "/v1/billing/plans", json=body, request_id=f"tollgate-plan-{plan.code}-{digest}"
    )
    _compare(plan, created)
    plan.paypal_plan_id = str(created["id"])
    return plan.paypal_plan_id


def check(plan: Plan) -> None:
    """Raise Mismatch unless the plan at PayPal sells exactly our plan's terms."""
    if not plan.paypal_plan_id:
        raise Mismatch(f"plan {plan.code} has no PayPal plan id")
    _compare(plan, api_client().call("GET", f"/v1/billing/plans/{plan.paypal_plan_id}"))


def _compare(plan: Plan, paypal_plan: dict) -> None:
    try:
        theirs = terms_of_plan(paypal_plan)
    except UnreadablePlan as e:
        raise Mismatch(f"PayPal's plan {paypal_plan.get('id')}: {e}") from None
    found = differences(plan_terms(plan), theirs)
    if found:
        raise Mismatch(f"PayPal's plan {paypal_plan.get('id')} sells {'; '.join(found)}")
