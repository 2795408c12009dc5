"""REST payments: get a sale, and refund it (idempotent per PayPal-Request-Id)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import jsonify, request

from .engine import Sim
from .errors import api_error
from .formats import money, rfc3339
from .rest_base import bp, current_sim, json_body
from .rest_oauth import bearer
from .state import Refused, Transaction
from .webhooks import sale_resource


def sale_json(sim: Sim, txn: Transaction) -> dict[str, Any]:
    return sale_resource(txn, sim.world.subscription(txn.subscription_id), sim.base_url)


@bp.route("/v1/payments/sale/<txn_id>")
@bearer
def sale_get(txn_id: str):
    sim = current_sim()
    return jsonify(sale_json(sim, sim.world.transaction(txn_id)))


@bp.route("/v1/payments/sale/<txn_id>/refund", methods=["POST"])
@bearer
def sale_refund(txn_id: str):
    """Refund a sale; the same PayPal-Request-Id never refunds twice."""
    sim = current_sim()
    request_id = request.headers.get("PayPal-Request-Id", "")
    if request_id and request_id in sim.world.refund_requests:
        done = sim.world.transaction(sim.world.refund_requests[request_id])
        if done.parent_id != txn_id:
            return api_error(
                "UNPROCESSABLE_ENTITY",
                "DUPLICATE_REQUEST_ID",
                "PayPal-Request-Id was already used for another request",
            )
        return jsonify(_refund_json(sim, done)), 200
    payment = sim.world.transaction(txn_id)
    amount = None
    body = json_body()
    if body.get("amount"):
        try:
            amount = Decimal(str(body["amount"]["total"]))
        except (KeyError, TypeError, InvalidOperation):
            return api_error(
                "INVALID_REQUEST",
                "INVALID_PARAMETER_SYNTAX",
                "amount.total must be a decimal",
                "/amount/total",
            )
        if body["amount"].get("currency") not in (None, payment.currency):
            return api_error(
                "UNPROCESSABLE_ENTITY", "CURRENCY_MISMATCH", "refund currency must match the sale"
            )
    try:
        refund = sim.refund(payment, amount)
    except Refused as e:
        return api_error("UNPROCESSABLE_ENTITY", "REFUND_EXCEEDED_TRANSACTION_AMOUNT", str(e))
    if request_id:
        sim.world.refund_requests[request_id] = refund.id
    return jsonify(_refund_json(sim, refund)), 201


def _refund_json(sim: Sim, refund: Transaction) -> dict[str, Any]:
    return {
        "id": refund.id,
        "state": "completed",
        "sale_id": refund.parent_id,
        "amount": {"total": money(-refund.amount), "currency": refund.currency},
        "create_time": rfc3339(refund.time),
        "update_time": rfc3339(refund.time),
        "links": [
            {
                "href": f"{sim.base_url}/v1/payments/refund/{refund.id}",
                "rel": "self",
                "method": "GET",
            }
        ],
    }
