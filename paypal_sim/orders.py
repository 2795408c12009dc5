"""Orders v2 and Payments v2 captures (one-time purchases), the buyer's approval page, and
the Standard Buy Now button's payment page (`cmd=_xclick`, from standard.py's webscr)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from flask import Blueprint, jsonify, redirect, render_template, request

from .errors import api_error
from .formats import money
from .one_time_formats import capture_resource, order_json, refund_resource
from .rest_base import current_sim, json_body
from .rest_oauth import bearer
from .state import Purchase, Refused

bp = Blueprint("orders", __name__)


def _order(p: Purchase):
    sim = current_sim()
    capture = sim.world.transactions.get(p.capture_id) if p.capture_id else None
    return order_json(p, capture, sim.world.account, sim.base_url)


@bp.route("/v2/checkout/orders", methods=["POST"])
@bearer
def create_order():
    """intent CAPTURE, one purchase unit with amount, custom_id and (if named) our payee."""
    sim, body = current_sim(), json_body()
    request_id = request.headers.get("PayPal-Request-Id", "")
    if request_id and request_id in sim.world.create_requests:
        return jsonify(_order(sim.purchase(sim.world.create_requests[request_id]))), 200
    units = body.get("purchase_units")
    if body.get("intent") != "CAPTURE" or not isinstance(units, list) or len(units) != 1:
        return api_error(
            "INVALID_REQUEST", "INVALID_PARAMETER_VALUE", "intent CAPTURE, one purchase unit"
        )
    unit = units[0] if isinstance(units[0], dict) else {}
    amount = unit.get("amount")
    amount = amount if isinstance(amount, dict) else {}
    try:
        value = Decimal(str(amount.get("value")))
        if value <= 0:
            raise InvalidOperation
    except InvalidOperation:
        return api_error(
            "INVALID_REQUEST", "INVALID_PARAMETER_VALUE", "amount.value", "/purchase_units/0"
        )
    payee = unit.get("payee")
    payee = payee if isinstance(payee, dict) else {}
    acct = sim.world.account
    if payee and str(payee.get("email_address", "")).lower() not in ("", acct.business.lower()):
        return api_error("UNPROCESSABLE_ENTITY", "PAYEE_ACCOUNT_INVALID", "unknown payee")
    context = body.get("application_context") or {}
    p = sim.create_order(
        value,
        str(amount.get("currency_code") or "USD"),
        str(unit.get("custom_id") or ""),
        str(context.get("return_url") or ""),
        str(context.get("cancel_url") or ""),
        description=str(unit.get("description") or ""),
        reference_id=str(unit.get("reference_id") or ""),
    )
    if request_id:
        sim.world.create_requests[request_id] = p.id
    return jsonify(_order(p)), 201


@bp.route("/v2/checkout/orders/<order_id>")
@bearer
def get_order(order_id: str):
    return jsonify(_order(current_sim().purchase(order_id)))


@bp.route("/v2/checkout/orders/<order_id>/capture", methods=["POST"])
@bearer
def capture(order_id: str):
    sim = current_sim()
    p = sim.purchase(order_id)
    request_id = request.headers.get("PayPal-Request-Id", "")
    if request_id and sim.world.create_requests.get(f"capture:{request_id}") == p.id:
        return jsonify(_order(p)), 201  # a retried capture: the same answer, no second charge
    try:
        sim.capture_order(p, "Pending" if sim.world.account.captures_pending else "Completed")
    except Refused as e:
        return api_error("UNPROCESSABLE_ENTITY", str(e), f"order is {p.status}")
    if request_id:
        sim.world.create_requests[f"capture:{request_id}"] = p.id
    return jsonify(_order(p)), 201


@bp.route("/v2/payments/captures/<capture_id>")
@bearer
def get_capture(capture_id: str):
    sim = current_sim()
    txn = sim.world.transaction(capture_id)
    return jsonify(
        capture_resource(txn, sim.purchase(txn.subscription_id), sim.world.account, sim.base_url)
    )


@bp.route("/v2/payments/captures/<capture_id>/refund", methods=["POST"])
@bearer
def refund_capture(capture_id: str):
    """Refund all (no body) or part of a capture; one PayPal-Request-Id refunds once."""
    sim, body = current_sim(), json_body()
    request_id = request.headers.get("PayPal-Request-Id", "")
    if request_id and request_id in sim.world.refund_requests:
        done = sim.world.transaction(sim.world.refund_requests[request_id])
        return jsonify(refund_resource(done, sim.purchase(done.subscription_id), sim.base_url))
    payment = sim.world.transaction(capture_id)
    amount = None
    if isinstance(body.get("amount"), dict):
        try:
            amount = Decimal(str(body["amount"].get("value")))
        except InvalidOperation:
            return api_error("INVALID_REQUEST", "INVALID_PARAMETER_SYNTAX", "amount.value")
    try:
        refund = sim.refund(payment, amount)
    except Refused as e:
        return api_error("UNPROCESSABLE_ENTITY", "REFUND_AMOUNT_EXCEEDED", str(e))
    if request_id:
        sim.world.refund_requests[request_id] = refund.id
    return jsonify(refund_resource(refund, sim.purchase(refund.subscription_id), sim.base_url)), 201


# -- the buyer at PayPal ------------------------------------------------------------
@bp.route("/checkoutnow")
def approve_page():
    sim = current_sim()
    p = sim.world.purchases.get(request.args.get("token", ""))
    if not isinstance(p, Purchase) or p.status != "CREATED":
        return render_template("sim/error.html", message="This approval link is not valid."), 404
    return render_template("sim/approve_order.html", order=p, amount=money(p.amount))


@bp.route("/sim/checkout/order", methods=["POST"])
def approve_order():
    sim = current_sim()
    with sim.world.lock:
        p = sim.world.purchases.get(request.form.get("token", ""))
        if not isinstance(p, Purchase) or p.status != "CREATED":
            return render_template(
                "sim/error.html", message="This approval link is not valid."
            ), 404
        back = urlencode({"token": p.id})
        if request.form.get("decision") != "approve":
            target = p.cancel_url or "/"
            return redirect(f"{target}{'&' if '?' in target else '?'}{back}", 303)
        sim.approve_order(p, request.form.to_dict())
        back = urlencode({"token": p.id, "PayerID": p.payer_id})
    target = p.return_url or "/"
    return redirect(f"{target}{'&' if '?' in target else '?'}{back}", 303)


def buy_now_page(form: dict[str, str]):
    """webscr with cmd=_xclick: the Buy Now button's payment page."""
    acct = current_sim().world.account
    if form.get("business", "").strip().lower() not in (
        acct.business.lower(),
        acct.receiver_id.lower(),
    ):
        return render_template("sim/error.html", message="Unknown business."), 400
    try:
        if Decimal(form.get("amount", "")) <= 0 or int(form.get("quantity") or 1) < 1:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        return render_template("sim/error.html", message="amount must be positive."), 400
    return render_template("sim/approve_buynow.html", fields=form, account=acct)


@bp.route("/sim/checkout/buynow", methods=["POST"])
def pay_buy_now():
    sim = current_sim()
    form = request.form.to_dict()
    button = {k[2:]: v for k, v in form.items() if k.startswith("f_")}
    if form.get("decision") != "approve":
        return redirect(button.get("cancel_return") or "/", 303)
    status = "Pending" if form.get("echeck") else "Completed"
    with sim.world.lock:
        p = sim.buy_now(button, form, status)
    target = p.return_url or "/"
    # Auto-return's PDT variables ride along; the merchant must not trust them.
    query = urlencode({"tx": p.capture_id, "st": status, "amt": money(p.amount), "cc": p.currency})
    return redirect(f"{target}{'&' if '?' in target else '?'}{query}", 303)
