"""REST Subscriptions API: create, get, cancel/suspend/activate, and transactions.

`activate` resumes a SUSPENDED subscription, or starts one created with
`application_context.user_action` CONTINUE that the buyer has approved (APPROVED).
"""

from __future__ import annotations

from flask import Response, jsonify, request

from .errors import api_error
from .formats import money, parse_rfc3339, rfc3339
from .rest_base import bp, current_sim, json_body, time_window
from .rest_oauth import bearer
from .signup import USER_ACTIONS, custom_id_problem


@bp.route("/v1/billing/subscriptions", methods=["POST"])
@bearer
def subscriptions_create():
    sim, body = current_sim(), json_body()
    request_id = request.headers.get("PayPal-Request-Id", "")
    if request_id in sim.world.create_requests:  # idempotent, as PayPal is
        done = sim.world.subscription(sim.world.create_requests[request_id])
        return jsonify(sim.subscription_json(done)), 201
    plan = sim.world.plans.get(body.get("plan_id", ""))
    if plan is None:
        return api_error(
            "RESOURCE_NOT_FOUND",
            "INVALID_RESOURCE_ID",
            "Requested resource ID was not found.",
            "/plan_id",
        )
    custom_id = str(body.get("custom_id", ""))
    problem = custom_id_problem(custom_id)
    if problem:
        return api_error("INVALID_REQUEST", "INVALID_STRING_LENGTH", problem, "/custom_id")
    start = None
    if body.get("start_time"):
        try:
            start = parse_rfc3339(body["start_time"])
        except ValueError:
            return api_error(
                "INVALID_REQUEST",
                "INVALID_PARAMETER_SYNTAX",
                "start_time must be RFC 3339",
                "/start_time",
            )
    ctx = body.get("application_context") or {}
    user_action = ctx.get("user_action", "SUBSCRIBE_NOW")
    if user_action not in USER_ACTIONS:
        return api_error(
            "INVALID_REQUEST",
            "INVALID_PARAMETER_VALUE",
            "user_action must be SUBSCRIBE_NOW or CONTINUE",
            "/application_context/user_action",
        )
    sub = sim.create_rest(
        plan,
        custom_id,
        ctx.get("return_url", ""),
        ctx.get("cancel_url", ""),
        body.get("subscriber") or {},
        start,
        user_action,
    )
    if request_id:
        sim.world.create_requests[request_id] = sub.id
    return jsonify(sim.subscription_json(sub)), 201


@bp.route("/v1/billing/subscriptions/<sub_id>")
@bearer
def subscriptions_get(sub_id: str):
    sim = current_sim()
    return jsonify(sim.subscription_json(sim.world.subscription(sub_id)))


@bp.route("/v1/billing/subscriptions/<sub_id>/<action>", methods=["POST"])
@bearer
def subscriptions_action(sub_id: str, action: str):
    sim = current_sim()
    sub = sim.world.subscription(sub_id)
    if action not in ("cancel", "suspend", "activate"):
        return api_error("RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", f"no action {action}")
    reason = str(json_body().get("reason", ""))
    if len(reason) > 128:
        return api_error(
            "INVALID_REQUEST", "INVALID_STRING_LENGTH", "reason: at most 128", "/reason"
        )
    {"cancel": sim.cancel, "suspend": sim.suspend, "activate": sim.activate}[action](sub)
    return Response(status=204)


@bp.route("/v1/billing/subscriptions/<sub_id>/transactions")
@bearer
def subscriptions_transactions(sub_id: str):
    sim = current_sim()
    sub = sim.world.subscription(sub_id)
    window = time_window("start_time", "end_time")
    if window is None:
        return api_error(
            "INVALID_REQUEST",
            "MISSING_REQUIRED_PARAMETER",
            "start_time and end_time (RFC 3339) are required",
        )
    start, end = window
    rows = [
        t
        for t in sim.world.transactions.values()
        if t.subscription_id == sub.id and start <= t.time <= end
    ]
    items = [
        {
            "id": t.id,
            "status": {
                "Completed": "COMPLETED",
                "Refunded": "REFUNDED",
                "Partially_Refunded": "PARTIALLY_REFUNDED",
                "Reversed": "REFUNDED",
            }.get(t.status, t.status.upper()),
            "amount_with_breakdown": {
                "gross_amount": {"currency_code": t.currency, "value": money(t.amount)},
                "fee_amount": {"currency_code": t.currency, "value": money(t.fee)},
                "net_amount": {"currency_code": t.currency, "value": money(t.amount - t.fee)},
            },
            "payer_name": {"given_name": sub.first_name, "surname": sub.last_name},
            "payer_email": sub.payer_email,
            "time": rfc3339(t.time),
        }
        for t in sorted(rows, key=lambda t: t.time)
        if t.kind == "payment"
    ]
    return jsonify(transactions=items, total_items=len(items), total_pages=1)
