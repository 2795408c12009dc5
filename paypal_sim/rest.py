"""PayPal's REST API as the gateway uses it: OAuth2, plans, subscriptions, refunds,
Transaction Search, webhook registration and signature verification."""
from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Any, Callable
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request

from .engine import Sim
from .errors import api_error
from .formats import money, new_id, parse_rfc3339, rfc3339
from .state import NotFound, Plan, Refused, Webhook
from .webhooks import CERT_ID, sale_resource, signed_message

bp = Blueprint("rest", __name__)
SCOPES = " ".join([
    "https://uri.paypal.com/services/subscriptions",
    "https://uri.paypal.com/services/reporting/search/read",
    "https://uri.paypal.com/services/applications/webhooks",
    "https://uri.paypal.com/services/applications/verify-webhook-signature",
    "https://api.paypal.com/v1/payments/.*"])
T_CODES = {"payment": "T0002", "refund": "T1107", "reversal": "T1106",
           "reversal_cancel": "T1111"}
T_STATUS = {"Completed": "S", "Partially_Refunded": "S", "Refunded": "V", "Reversed": "V",
            "Canceled_Reversal": "S", "Pending": "P", "Denied": "D"}


def _sim() -> Sim:
    return current_app.extensions["paypal_sim"]


def _json() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def _time_window(start_name: str, end_name: str) -> tuple[datetime, datetime] | None:
    """Both query arguments as RFC 3339 times, or None if either is missing or malformed."""
    try:
        return parse_rfc3339(request.args[start_name]), parse_rfc3339(request.args[end_name])
    except (KeyError, ValueError):
        return None


# -- OAuth ----------------------------------------------------------------------
@bp.route("/v1/oauth2/token", methods=["POST"])
def token():
    sim = _sim()
    acct = sim.world.account
    auth = request.authorization
    if auth is None or auth.type != "basic" or (auth.username, auth.password) != (
            acct.client_id, acct.client_secret):
        return jsonify(error="invalid_client", error_description="Client Authentication failed"), 401
    if request.form.get("grant_type") != "client_credentials":
        return jsonify(error="unsupported_grant_type",
                       error_description="Grant Type is NULL"), 400
    value = "A21AA" + secrets.token_urlsafe(60)
    with sim.world.lock:
        sim.world.tokens[value] = sim.clock.now() + timedelta(seconds=acct.token_lifetime)
    return jsonify(scope=SCOPES, access_token=value, token_type="Bearer", app_id="APP-SIM0001",
                   expires_in=acct.token_lifetime, nonce=f"{rfc3339(sim.clock.now())}{new_id()}")


def bearer(view: Callable) -> Callable:
    @wraps(view)
    def wrapped(*args, **kwargs):
        sim = _sim()
        header = request.headers.get("Authorization", "")
        value = header[7:] if header.startswith("Bearer ") else ""
        expiry = sim.world.tokens.get(value)
        if expiry is None or expiry <= sim.clock.now():
            return jsonify(error="invalid_token",
                           error_description="Token signature verification failed"), 401
        try:
            with sim.world.lock:
                return view(*args, **kwargs)
        except NotFound as e:
            return api_error("RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", str(e))
        except Refused as e:
            return api_error("UNPROCESSABLE_ENTITY", "SUBSCRIPTION_STATUS_INVALID", str(e))
    return wrapped


# -- plans ----------------------------------------------------------------------
def create_plan_from(sim: Sim, spec: dict[str, Any]) -> Plan:
    """A plan from a REST body (billing_cycles) or a short form {id, name, price, ...}."""
    cycles = spec.get("billing_cycles")
    if cycles:
        regular = next(c for c in cycles if c.get("tenure_type") == "REGULAR")
        trial = next((c for c in cycles if c.get("tenure_type") == "TRIAL"), None)
        price = regular["pricing_scheme"]["fixed_price"]
        plan = Plan(id=spec.get("id") or new_id("P-", 24), product_id=spec.get("product_id", ""),
                    name=spec.get("name", ""), price=Decimal(price["value"]),
                    currency=price["currency_code"],
                    interval_unit=regular["frequency"]["interval_unit"],
                    interval_count=int(regular["frequency"].get("interval_count", 1)),
                    total_cycles=int(regular.get("total_cycles", 0)),
                    trial_unit=trial["frequency"]["interval_unit"] if trial else None,
                    trial_count=int(trial["frequency"].get("interval_count", 1)) if trial else 0,
                    payment_failure_threshold=int(spec.get("payment_preferences", {})
                                                  .get("payment_failure_threshold", 3)))
    else:
        plan = Plan(id=spec.get("id") or new_id("P-", 24), product_id=spec.get("product_id", ""),
                    name=spec["name"], price=Decimal(str(spec["price"])),
                    currency=spec.get("currency", "USD"),
                    interval_unit=spec.get("interval_unit", "MONTH"),
                    interval_count=int(spec.get("interval_count", 1)),
                    total_cycles=int(spec.get("total_cycles", 0)),
                    trial_unit=spec.get("trial_unit"), trial_count=int(spec.get("trial_count", 0)))
    if plan.interval_unit not in ("DAY", "WEEK", "MONTH", "YEAR"):
        raise ValueError("interval_unit must be DAY, WEEK, MONTH or YEAR")
    plan.create_time = sim.clock.now()
    sim.world.plans[plan.id] = plan
    return plan


def plan_json(plan: Plan) -> dict[str, Any]:
    cycles = []
    if plan.trial_unit:
        cycles.append({"frequency": {"interval_unit": plan.trial_unit,
                                     "interval_count": plan.trial_count},
                       "tenure_type": "TRIAL", "sequence": 1, "total_cycles": 1})
    cycles.append({"frequency": {"interval_unit": plan.interval_unit,
                                 "interval_count": plan.interval_count},
                   "tenure_type": "REGULAR", "sequence": len(cycles) + 1,
                   "total_cycles": plan.total_cycles,
                   "pricing_scheme": {"fixed_price": {"value": money(plan.price),
                                                      "currency_code": plan.currency}}})
    return {"id": plan.id, "product_id": plan.product_id, "name": plan.name,
            "status": plan.status, "billing_cycles": cycles,
            "payment_preferences": {"payment_failure_threshold": plan.payment_failure_threshold,
                                    "auto_bill_outstanding": True},
            "create_time": rfc3339(plan.create_time) if plan.create_time else None}


@bp.route("/v1/billing/plans", methods=["POST"])
@bearer
def plans_create():
    try:
        plan = create_plan_from(_sim(), _json())
    except (KeyError, StopIteration, TypeError, ValueError, InvalidOperation) as e:
        return api_error("INVALID_REQUEST", "INVALID_PARAMETER_SYNTAX", f"bad plan: {e}")
    return jsonify(plan_json(plan)), 201


@bp.route("/v1/billing/plans/<plan_id>")
@bearer
def plans_get(plan_id: str):
    plan = _sim().world.plans.get(plan_id)
    if plan is None:
        return api_error("RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "plan not found")
    return jsonify(plan_json(plan))


# -- subscriptions --------------------------------------------------------------
@bp.route("/v1/billing/subscriptions", methods=["POST"])
@bearer
def subscriptions_create():
    sim, body = _sim(), _json()
    plan = sim.world.plans.get(body.get("plan_id", ""))
    if plan is None:
        return api_error("RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID",
                         "Requested resource ID was not found.", "/plan_id")
    custom_id = str(body.get("custom_id", ""))
    if len(custom_id) > 127 or any(not (32 <= ord(c) < 127) for c in custom_id):
        return api_error("INVALID_REQUEST", "INVALID_STRING_LENGTH",
                         "custom_id: at most 127 printable ASCII characters", "/custom_id")
    start = None
    if body.get("start_time"):
        try:
            start = parse_rfc3339(body["start_time"])
        except ValueError:
            return api_error("INVALID_REQUEST", "INVALID_PARAMETER_SYNTAX",
                             "start_time must be RFC 3339", "/start_time")
    ctx = body.get("application_context") or {}
    sub = sim.create_rest(plan, custom_id, ctx.get("return_url", ""), ctx.get("cancel_url", ""),
                          body.get("subscriber") or {}, start)
    return jsonify(sim.subscription_json(sub)), 201


@bp.route("/v1/billing/subscriptions/<sub_id>")
@bearer
def subscriptions_get(sub_id: str):
    sim = _sim()
    return jsonify(sim.subscription_json(sim.world.subscription(sub_id)))


@bp.route("/v1/billing/subscriptions/<sub_id>/<action>", methods=["POST"])
@bearer
def subscriptions_action(sub_id: str, action: str):
    sim = _sim()
    sub = sim.world.subscription(sub_id)
    if action not in ("cancel", "suspend", "activate"):
        return api_error("RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", f"no action {action}")
    reason = str(_json().get("reason", ""))
    if len(reason) > 128:
        return api_error("INVALID_REQUEST", "INVALID_STRING_LENGTH", "reason: at most 128", "/reason")
    {"cancel": sim.cancel, "suspend": sim.suspend, "activate": sim.activate}[action](sub)
    return Response(status=204)


@bp.route("/v1/billing/subscriptions/<sub_id>/transactions")
@bearer
def subscriptions_transactions(sub_id: str):
    sim = _sim()
    sub = sim.world.subscription(sub_id)
    window = _time_window("start_time", "end_time")
    if window is None:
        return api_error("INVALID_REQUEST", "MISSING_REQUIRED_PARAMETER",
                         "start_time and end_time (RFC 3339) are required")
    start, end = window
    rows = [t for t in sim.world.transactions.values()
            if t.subscription_id == sub.id and start <= t.time <= end]
    items = [{"id": t.id, "status": {"Completed": "COMPLETED", "Refunded": "REFUNDED",
                                     "Partially_Refunded": "PARTIALLY_REFUNDED",
                                     "Reversed": "REFUNDED"}.get(t.status, t.status.upper()),
              "amount_with_breakdown": {
                  "gross_amount": {"currency_code": t.currency, "value": money(t.amount)},
                  "fee_amount": {"currency_code": t.currency, "value": money(t.fee)},
                  "net_amount": {"currency_code": t.currency, "value": money(t.amount - t.fee)}},
              "payer_name": {"given_name": sub.first_name, "surname": sub.last_name},
              "payer_email": sub.payer_email, "time": rfc3339(t.time)}
             for t in sorted(rows, key=lambda t: t.time) if t.kind == "payment"]
    return jsonify(transactions=items, total_items=len(items), total_pages=1)


# -- buyer approval (the page PayPal's approve link opens) -------------------------
@bp.route("/webapps/billing/subscriptions")
def approve_page():
    sim = _sim()
    token = request.args.get("ba_token", "")
    sub = next((s for s in sim.world.subscriptions.values() if s.approval_token == token), None)
    if sub is None:
        return render_template("sim/error.html", message="This approval link is not valid."), 404
    return render_template("sim/approve_rest.html", sub=sub)


@bp.route("/sim/checkout/rest", methods=["POST"])
def approve_rest():
    sim = _sim()
    token = request.form.get("ba_token", "")
    with sim.world.lock:
        sub = next((s for s in sim.world.subscriptions.values() if s.approval_token == token), None)
        if sub is None:
            return render_template("sim/error.html", message="This approval link is not valid."), 404
        if request.form.get("decision") != "approve":
            return redirect(sub.cancel_url or "/", 303)
        try:
            sim.approve_rest(sub, {"email": request.form.get("email", ""),
                                   "first_name": request.form.get("first_name", ""),
                                   "last_name": request.form.get("last_name", "")})
        except Refused as e:
            return render_template("sim/error.html", message=str(e)), 409
    query = urlencode({"subscription_id": sub.id, "ba_token": token, "token": new_id("", 17)})
    target = sub.return_url or "/"
    return redirect(f"{target}{'&' if '?' in target else '?'}{query}", 303)


# -- payments -------------------------------------------------------------------
def sale_json(sim: Sim, txn) -> dict[str, Any]:
    return sale_resource(txn, sim.world.subscription(txn.subscription_id), sim.base_url)


@bp.route("/v1/payments/sale/<txn_id>")
@bearer
def sale_get(txn_id: str):
    sim = _sim()
    return jsonify(sale_json(sim, sim.world.transaction(txn_id)))


@bp.route("/v1/payments/sale/<txn_id>/refund", methods=["POST"])
@bearer
def sale_refund(txn_id: str):
    """Refund a sale; the same PayPal-Request-Id never refunds twice."""
    sim = _sim()
    request_id = request.headers.get("PayPal-Request-Id", "")
    if request_id and request_id in sim.world.refund_requests:
        done = sim.world.transaction(sim.world.refund_requests[request_id])
        if done.parent_id != txn_id:
            return api_error("UNPROCESSABLE_ENTITY", "DUPLICATE_REQUEST_ID",
                             "PayPal-Request-Id was already used for another request")
        return jsonify(_refund_json(sim, done)), 200
    payment = sim.world.transaction(txn_id)
    amount = None
    body = _json()
    if body.get("amount"):
        try:
            amount = Decimal(str(body["amount"]["total"]))
        except (KeyError, TypeError, InvalidOperation):
            return api_error("INVALID_REQUEST", "INVALID_PARAMETER_SYNTAX",
                             "amount.total must be a decimal", "/amount/total")
        if body["amount"].get("currency") not in (None, payment.currency):
            return api_error("UNPROCESSABLE_ENTITY", "CURRENCY_MISMATCH",
                             "refund currency must match the sale")
    try:
        refund = sim.refund(payment, amount)
    except Refused as e:
        return api_error("UNPROCESSABLE_ENTITY", "REFUND_EXCEEDED_TRANSACTION_AMOUNT", str(e))
    if request_id:
        sim.world.refund_requests[request_id] = refund.id
    return jsonify(_refund_json(sim, refund)), 201


def _refund_json(sim: Sim, refund) -> dict[str, Any]:
    return {"id": refund.id, "state": "completed", "sale_id": refund.parent_id,
            "amount": {"total": money(-refund.amount), "currency": refund.currency},
            "create_time": rfc3339(refund.time), "update_time": rfc3339(refund.time),
            "links": [{"href": f"{sim.base_url}/v1/payments/refund/{refund.id}", "rel": "self",
                       "method": "GET"}]}


# -- reporting ------------------------------------------------------------------
@bp.route("/v1/reporting/transactions")
@bearer
def transaction_search():
    sim = _sim()
    window = _time_window("start_date", "end_date")
    if window is None:
        return api_error("INVALID_REQUEST", "INVALID_REQUEST",
                         "start_date and end_date are required in RFC 3339 format")
    start, end = window
    if end < start or end - start > timedelta(days=31):
        return api_error("INVALID_REQUEST", "INVALID_REQUEST",
                         "Date range is greater than 31 days")
    try:
        page_size = int(request.args.get("page_size", 100))
        page = int(request.args.get("page", 1))
        assert 1 <= page_size <= 500 and page >= 1
    except (ValueError, AssertionError):
        return api_error("INVALID_REQUEST", "INVALID_REQUEST",
                         "page_size must be 1-500 and page at least 1")
    lag = timedelta(minutes=float(current_app.config["SIM_REPORTING_LAG_MINUTES"]))
    visible_until = sim.clock.now() - lag
    rows = sorted((t for t in sim.world.transactions.values()
                   if start <= t.time <= end and t.time <= visible_until),
                  key=lambda t: (t.time, t.id))
    if request.args.get("transaction_id"):
        rows = [t for t in rows if t.id == request.args["transaction_id"]]
    if request.args.get("transaction_status"):
        rows = [t for t in rows if T_STATUS.get(t.status) == request.args["transaction_status"]]
    total_pages = max(1, -(-len(rows) // page_size))
    chunk = rows[(page - 1) * page_size: page * page_size]
    return jsonify(transaction_details=[_search_row(sim, t) for t in chunk],
                   account_number=sim.world.account.receiver_id,
                   start_date=rfc3339(start), end_date=rfc3339(end),
                   last_refreshed_datetime=rfc3339(visible_until), page=page,
                   total_items=len(rows), total_pages=total_pages)


def _search_row(sim: Sim, t) -> dict[str, Any]:
    info = {"paypal_account_id": sim.world.account.receiver_id, "transaction_id": t.id,
            "paypal_reference_id": t.parent_id or t.subscription_id,
            "paypal_reference_id_type": "TXN" if t.parent_id else "SUB",
            "transaction_event_code": T_CODES[t.kind],
            "transaction_initiation_date": rfc3339(t.time),
            "transaction_updated_date": rfc3339(t.updated or t.time),
            "transaction_amount": {"currency_code": t.currency, "value": money(t.amount)},
            "fee_amount": {"currency_code": t.currency, "value": money(-t.fee)},
            "transaction_status": T_STATUS.get(t.status, "S"),
            "custom_field": t.custom, "protection_eligibility": "01"}
    return {"transaction_info": info,
            "payer_info": {"email_address": t.payer_email},
            "cart_info": {"item_details": [{"item_code": t.item_number, "item_name": t.item_name}]}}


# -- webhooks -------------------------------------------------------------------
@bp.route("/v1/notifications/webhooks", methods=["POST", "GET"])
@bearer
def webhooks_collection():
    sim = _sim()
    if request.method == "GET":
        return jsonify(webhooks=[{"id": h.id, "url": h.url, "event_types": [
            {"name": n} for n in h.event_types]} for h in sim.world.webhooks.values()])
    body = _json()
    if not str(body.get("url", "")).startswith(("http://", "https://")):
        return api_error("INVALID_REQUEST", "INVALID_PARAMETER_SYNTAX", "url is required", "/url")
    names = [e.get("name", "*") for e in body.get("event_types") or [{"name": "*"}]]
    hook = Webhook(new_id("", 17), body["url"], names)
    sim.world.webhooks[hook.id] = hook
    return jsonify(id=hook.id, url=hook.url, event_types=[{"name": n} for n in names]), 201


@bp.route("/v1/notifications/certs/<cert_id>")
def cert(cert_id: str):
    if cert_id != CERT_ID:
        return api_error("RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "certificate not found")
    return Response(_sim().signer.cert_pem, mimetype="application/x-pem-file")


@bp.route("/v1/notifications/verify-webhook-signature", methods=["POST"])
@bearer
def verify_webhook_signature():
    """PayPal's postback check: HTTP 200 either way; the body says SUCCESS or FAILURE."""
    sim, body = _sim(), _json()
    required = ("auth_algo", "cert_url", "transmission_id", "transmission_sig",
                "transmission_time", "webhook_id", "webhook_event")
    missing = [k for k in required if not body.get(k)]
    if missing:
        return api_error("INVALID_REQUEST", "MISSING_REQUIRED_PARAMETER",
                         f"missing: {', '.join(missing)}", f"/{missing[0]}")
    # PayPal re-serialises the event it is given; so does the stand-in (as its SDKs do).
    event_bytes = json.dumps(body["webhook_event"], separators=(",", ":")).encode()
    ok = (body["auth_algo"] == "SHA256withRSA" and body["webhook_id"] in sim.world.webhooks
          and body["cert_url"].endswith(f"/v1/notifications/certs/{CERT_ID}")
          and sim.signer.verify(signed_message(body["transmission_id"],
                                               body["transmission_time"], body["webhook_id"],
                                               event_bytes), body["transmission_sig"]))
    return jsonify(verification_status="SUCCESS" if ok else "FAILURE")
