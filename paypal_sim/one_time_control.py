"""Control of one-time purchases for tests and demos: list them, clear a pending payment,
make Orders captures come back PENDING. Refunds and reversals of their payments go through
the transactions' control (control.py: /sim/api/transactions/<txn>/<action>)."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, current_app, jsonify, request

from .engine import Sim
from .formats import flag, money

bp = Blueprint("one_time_control", __name__, url_prefix="/sim/api")


def _sim() -> Sim:
    return current_app.extensions["paypal_sim"]


@bp.route("/purchases")
def purchases():
    sim = _sim()
    with sim.world.lock:
        return jsonify(
            [asdict(p) | {"amount": money(p.amount)} for p in sim.world.purchases.values()]
        )


@bp.route("/purchases/<purchase_id>/clear", methods=["POST"])
def clear(purchase_id: str):
    """A pending payment (an eCheck, a pending capture) completes."""
    sim = _sim()
    with sim.world.lock:
        txn = sim.clear(sim.purchase(purchase_id))
    return jsonify(id=txn.id, status=txn.status)


@bp.route("/captures-pending", methods=["POST"])
def captures_pending():
    sim = _sim()
    data = request.get_json(silent=True) or {}
    sim.world.account.captures_pending = flag(data.get("on", True))
    return jsonify(captures_pending=sim.world.account.captures_pending)
