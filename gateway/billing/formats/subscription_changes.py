"""A subscription resource's change (activated, suspended, cancelled, ...) read into facts.

Apart from the webhook events because the Subscriptions API's answers (`api_answers.py`)
report the same resource: read by one code, a change learnt both ways is one fact.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..rules.facts import Fact, FactKind
from ..rules.interpretation import PlanRef
from ..rules.statuses import PlanRefKind
from .names import payer_name
from .paypal_json import Json, rfc3339


def subscription_fields(sub: Json) -> dict[str, Any]:
    """The Interpretation fields any subscription resource gives (v2 `status`, v1 `state`)."""
    plan_id = sub.ident("plan_id")
    return {
        "subscription_ref": sub.ident("id"),
        "member_token": sub.text("custom_id"),
        "plan_refs": (PlanRef(PlanRefKind.REST_PLAN, plan_id),) if plan_id else (),
        "plan_at": sub.time("update_time") if plan_id else None,
        "payer_email": sub.text("subscriber.email_address"),
        "payer_name": payer_name(
            sub.text("subscriber.name.given_name"), sub.text("subscriber.name.surname")
        ),
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
        summary, facts, warnings = _activated(sub, received_at)
        return summary, [*facts, _resumed(sub, received_at)], warnings
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


def _resumed(sub: Json, received_at: datetime) -> Fact:
    """PayPal announces a resume (the activate call) as ACTIVATED too, and asked after a
    resume it answers ACTIVE: either lifts a pause dated before it (and changes nothing
    at a first activation). Keyed as RE-ACTIVATED's, so both are one fact."""
    at = sub.time("status_update_time", "start_time") or received_at
    stamp = sub.stamp("status_update_time", "start_time") or rfc3339(at)
    return Fact(FactKind.REACTIVATED, at, key=f"reactivated:{stamp}")


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
    if sub.amount("billing_info.last_payment.amount.value"):
        # A paid trial (or a setup fee): its payments give access, each checked against
        # the subscription's own terms, so nothing is granted here and nothing is odd.
        return None
    return until
