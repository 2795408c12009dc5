"""REST revise (a plan change) and the buyer's approval of it at PayPal.

`POST /v1/billing/subscriptions/{id}/revise` answers the plan the subscription moves to;
when the buyer must consent (another price or period: Lifecycle.revise) the answer has an
`approve` link, and BILLING.SUBSCRIPTION.UPDATED is sent once they agree.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import jsonify, redirect, render_template, request

from .errors import api_error
from .formats import new_id, rfc3339
from .rest_base import bp, current_sim, json_body
from .rest_oauth import bearer
from .state import Refused


@bp.route("/v1/billing/subscriptions/<sub_id>/revise", methods=["POST"])
@bearer
def subscriptions_revise(sub_id: str):
    sim, body = current_sim(), json_body()
    with sim.world.lock:
        sub = sim.world.subscription(sub_id)
        plan = sim.world.plans.get(str(body.get("plan_id", "")))
        if plan is None:
            return api_error(
                "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "plan not found", "/plan_id"
            )
        ctx = body.get("application_context") or {}
        try:
            needs_approval = sim.revise(
                sub, plan, str(ctx.get("return_url", "")), str(ctx.get("cancel_url", ""))
            )
        except Refused as e:
            return api_error("UNPROCESSABLE_ENTITY", "SUBSCRIPTION_STATUS_INVALID", str(e))
        links = [
            {
                "href": f"{sim.base_url}/v1/billing/subscriptions/{sub.id}",
                "rel": "edit",
                "method": "PATCH",
            }
        ]
        if needs_approval:
            links.insert(
                0,
                {
                    "href": f"{sim.base_url}/webapps/billing/subscriptions/revise"
                    f"?ba_token={sub.revise_token}",
                    "rel": "approve",
                    "method": "GET",
                },
            )
        answer = {
            "plan_id": plan.id,
            "plan_overridden": False,
            "quantity": "1",
            "effective_time": rfc3339(sim.clock.now()),
            "links": links,
        }
    return jsonify(answer), 200


def _waiting(token: str):
    sim = current_sim()
    return next(
        (s for s in sim.world.subscriptions.values() if token and s.revise_token == token), None
    )


@bp.route("/webapps/billing/subscriptions/revise")
def approve_revise_page():
    sub = _waiting(request.args.get("ba_token", ""))
    if sub is None:
        return render_template("sim/error.html", message="This approval link is not valid."), 404
    plan = current_sim().world.plans[sub.revise_plan_id]
    return render_template("sim/approve_revise.html", sub=sub, plan=plan)


@bp.route("/sim/checkout/revise", methods=["POST"])
def approve_revise():
    sim = current_sim()
    token = request.form.get("ba_token", "")
    with sim.world.lock:
        sub = _waiting(token)
        if sub is None:
            return render_template(
                "sim/error.html", message="This approval link is not valid."
            ), 404
        back, cancel = sub.revise_return_url, sub.revise_cancel_url
        if request.form.get("decision") != "approve":
            sub.revise_plan_id = sub.revise_token = ""
            return redirect(cancel or "/", 303)
        try:
            sim.approve_revise(sub)
        except Refused as e:
            return render_template("sim/error.html", message=str(e)), 409
    query = urlencode({"subscription_id": sub.id, "ba_token": token, "token": new_id("", 17)})
    target = back or "/"
    return redirect(f"{target}{'&' if '?' in target else '?'}{query}", 303)
