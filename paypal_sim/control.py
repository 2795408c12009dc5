"""Control of the stand-in for tests and demos: clock, renewals, failures, refunds, faults,
deliveries, the Activity CSV, a REST subscription approved as the JS SDK would, no browser."""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request

from .delivery import FAULTS
from .engine import Sim
from .formats import PACIFIC, flag, money, parse_rfc3339, rfc3339
from .signup import USER_ACTIONS, custom_id_problem
from .state import NotFound, Refused, Subscription, Webhook

bp = Blueprint("control", __name__, url_prefix="/sim")

ACTIVITY_HEADER = [
    "Date",
    "Time",
    "TimeZone",
    "Name",
    "Type",
    "Status",
    "Currency",
    "Gross",
    "Fee",
    "Net",
    "From Email Address",
    "To Email Address",
    "Transaction ID",
    "Shipping Address",
    "Address Status",
    "Item Title",
    "Item ID",
    "Shipping and Handling Amount",
    "Insurance Amount",
    "Sales Tax",
    "Option 1 Name",
    "Option 1 Value",
    "Option 2 Name",
    "Option 2 Value",
    "Reference Txn ID",
    "Invoice Number",
    "Custom Number",
    "Quantity",
    "Receipt ID",
    "Balance",
    "Address Line 1",
    "Address Line 2/District/Neighborhood",
    "Town/City",
    "State/Province/Region/County/Territory/Prefecture/Republic",
    "Zip/Postal Code",
    "Country",
    "Contact Phone Number",
    "Subject",
    "Note",
    "Country Code",
    "Balance Impact",
]
ACTIVITY_TYPE = {
    "payment": "Subscription Payment",
    "refund": "Payment Refund",
    "reversal": "Payment Reversal",
    "reversal_cancel": "Cancellation of Reversal",
}


def _sim() -> Sim:
    return current_app.extensions["paypal_sim"]


def _args() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else request.form.to_dict()


def _answer(payload: dict[str, Any], status: int = 200):
    """JSON for API callers; back to the control page for its own forms."""
    if request.is_json or request.accept_mimetypes.best == "application/json":
        return jsonify(payload), status
    return redirect(request.referrer or "/sim/", 303)


@bp.errorhandler(NotFound)
def not_found(e):
    return jsonify(error=str(e)), 404


@bp.errorhandler(Refused)
@bp.errorhandler(ValueError)
def refused(e):
    return jsonify(error=str(e)), 409 if isinstance(e, Refused) else 400


def _created(sub: Subscription) -> datetime:
    # Signup sets create_time on every subscription it makes.
    assert sub.create_time is not None
    return sub.create_time


@bp.route("/")
def page():
    sim = _sim()
    with sim.world.lock:
        subs = sorted(sim.world.subscriptions.values(), key=_created, reverse=True)
        txns = sorted(sim.world.transactions.values(), key=lambda t: t.time, reverse=True)
    return render_template(
        "sim/control.html",
        sim=sim,
        subs=subs,
        txns=txns,
        log=list(reversed(sim.outbox.log[-200:])),
        now=sim.clock.now(),
        faults=sorted(FAULTS),
        plans=list(sim.world.plans.values()),
    )


@bp.route("/api/clock/advance", methods=["POST"])
def advance():
    """Move the clock forward, then bill every renewal and end of term it reached."""
    sim, args = _sim(), _args()
    delta = timedelta(
        days=float(args.get("days") or 0),
        hours=float(args.get("hours") or 0),
        seconds=float(args.get("seconds") or 0),
    )
    with sim.world.lock:
        now = sim.clock.advance(delta)
        billed = sim.run_billing()
    return _answer({"now": rfc3339(now), "billed": billed})


@bp.route("/api/clock")
def clock():
    return jsonify(now=rfc3339(_sim().clock.now()))


@bp.route("/api/deliveries/run", methods=["POST"])
def run_deliveries():
    sim = _sim()
    if _args().get("release_held"):
        sim.outbox.release_held()
    return _answer({"attempts": sim.outbox.run_due()})


@bp.route("/api/deliveries")
def deliveries():
    sim = _sim()
    return jsonify(
        attempts=[{**asdict(a), "at": rfc3339(a.at)} for a in sim.outbox.log],
        messages=[
            {
                "id": m.id,
                "kind": m.kind,
                "label": m.label,
                "url": m.url,
                "state": m.state,
                "fault": m.fault,
                "attempts": m.attempts,
                "next_attempt": rfc3339(m.next_attempt),
                "body": m.body.decode("latin-1"),
                "headers": m.headers,
            }
            for m in sim.outbox.messages
        ],
    )


@bp.route("/api/faults", methods=["POST"])
def faults():
    args = _args()
    _sim().outbox.add_fault(
        str(args.get("kind", "")), int(args.get("count") or 1), float(args.get("seconds") or 0)
    )
    return _answer({"queued": args.get("kind")})


@bp.route("/api/account", methods=["POST"])
def account():
    """Change the merchant account: charset, sandbox (test_ipn), profile notify URL, and
    rest_ipn (REST payments reported by IPN too)."""
    sim, args = _sim(), _args()
    acct = sim.world.account
    with sim.world.lock:
        if "charset" in args:
            try:
                codecs.lookup(args["charset"])
            except LookupError:
                raise ValueError(f"unknown charset {args['charset']!r}") from None
            acct.charset = args["charset"]
        for key in ("sandbox", "rest_ipn"):
            if key in args:
                setattr(acct, key, flag(args[key]))
        for key in ("notify_url", "business", "receiver_id"):
            if key in args:
                setattr(acct, key, args[key])
    return _answer(
        {
            "charset": acct.charset,
            "sandbox": acct.sandbox,
            "notify_url": acct.notify_url,
            "business": acct.business,
            "rest_ipn": acct.rest_ipn,
        }
    )


@bp.route("/api/webhooks", methods=["POST"])
def add_webhook():
    args = _args()
    if not str(args.get("url", "")).startswith(("http://", "https://")):
        raise ValueError("url must be an http(s) URL")
    hook = Webhook(
        str(args.get("id") or f"WH-SIM-{len(_sim().world.webhooks) + 1}"), str(args["url"])
    )
    _sim().world.webhooks[hook.id] = hook
    return _answer({"id": hook.id, "url": hook.url})


@bp.route("/api/rest/subscriptions", methods=["POST"])
def rest_subscription():
    """`actions.subscription.create` and the buyer's popup, without a browser: a REST
    subscription, approved unless `approve` is false (then APPROVAL_PENDING); with
    `activate` false the buyer's approval leaves it APPROVED, unbilled, until activated.
    `user_action` (SUBSCRIBE_NOW or CONTINUE) is recorded as the API would."""
    sim, args = _sim(), _args()
    plan = sim.world.plans.get(str(args.get("plan_id", "")))
    if plan is None:
        raise NotFound(f"plan {args.get('plan_id')!r} does not exist")
    custom_id = str(args.get("custom_id", ""))
    problem = custom_id_problem(custom_id)
    if problem:
        raise ValueError(problem)
    start = parse_rfc3339(str(args["start_time"])) if args.get("start_time") else None
    user_action = str(args.get("user_action") or "SUBSCRIBE_NOW")
    if user_action not in USER_ACTIONS:
        raise ValueError("user_action must be SUBSCRIBE_NOW or CONTINUE")
    with sim.world.lock:
        subscriber = {"email_address": str(args["email"])} if args.get("email") else {}
        sub = sim.create_rest(plan, custom_id, "", "", subscriber, start, user_action)
        if flag(args.get("approve", True)):
            sim.approve_rest(sub, _buyer(args), _activate(args))
        state = sim.subscription_json(sub)
    return _answer(state, 201)


def _buyer(args: dict[str, Any]) -> dict[str, str]:
    """The buyer in the approval popup; the defaults are the approve page's."""
    return {
        "email": str(args.get("email") or "buyer@example.com"),
        "first_name": str(args.get("first_name") or "José"),
        "last_name": str(args.get("last_name") or "Müller"),
    }


def _activate(args: dict[str, Any]) -> bool | None:
    """`activate` if given, else None: the subscription's own user_action decides."""
    return flag(args["activate"]) if args.get("activate") not in (None, "") else None


@bp.route("/api/subscriptions/<sub_id>/<action>", methods=["POST"])
def subscription_action(sub_id: str, action: str):
    """fail-next (count), cancel, suspend, activate (a SUSPENDED or APPROVED one), modify
    (Standard), approve (a pending REST one, as its buyer; `activate` false: APPROVED)."""
    sim, args = _sim(), _args()
    with sim.world.lock:
        sub = sim.world.subscription(sub_id)
        if action == "approve":
            sim.approve_rest(sub, _buyer(args), _activate(args))
        elif action == "fail-next":
            sub.fail_next += int(args.get("count") or 1)
        elif action == "cancel":
            sim.cancel(sub)
        elif action == "suspend":
            sim.suspend(sub)
        elif action == "activate":
            sim.activate(sub)
        elif action == "modify":
            sim.modify(sub)
        else:
            raise NotFound(f"no action {action}")
        state = sim.subscription_json(sub)
    return _answer(state)


@bp.route("/api/transactions/<txn_id>/<action>", methods=["POST"])
def transaction_action(txn_id: str, action: str):
    sim, args = _sim(), _args()
    with sim.world.lock:
        payment = sim.world.transaction(txn_id)
        if action == "refund":
            try:
                amount = Decimal(str(args["amount"])) if args.get("amount") else None
            except InvalidOperation:
                raise ValueError("amount must be a decimal") from None
            txn = sim.refund(payment, amount)
        elif action == "reverse":
            txn = sim.reverse(payment)
        elif action == "cancel-reversal":
            txn = sim.cancel_reversal(payment)
        else:
            raise NotFound(f"no action {action}")
    return _answer(
        {
            "id": txn.id,
            "status": txn.status,
            "amount": money(txn.amount),
            "parent_txn_id": txn.parent_id,
        }
    )


@bp.route("/api/state")
def state():
    sim = _sim()
    with sim.world.lock:
        return jsonify(
            now=rfc3339(sim.clock.now()),
            subscriptions=[
                sim.subscription_json(s) | {"style": s.style, "custom": s.custom}
                for s in sim.world.subscriptions.values()
            ],
            transactions=[
                {
                    "id": t.id,
                    "subscription_id": t.subscription_id,
                    "kind": t.kind,
                    "status": t.status,
                    "amount": money(t.amount),
                    "fee": money(t.fee),
                    "currency": t.currency,
                    "time": rfc3339(t.time),
                    "parent_txn_id": t.parent_id,
                }
                for t in sim.world.transactions.values()
            ],
        )


@bp.route("/reports/activity.csv")
def activity_csv():
    """The account's Activity Download, with PayPal's default US column names."""
    sim = _sim()
    start, end = _date_arg("start_date", datetime.min), _date_arg("end_date", datetime.max)
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(ACTIVITY_HEADER)
    acct = sim.world.account
    with sim.world.lock:
        rows = sorted(
            (t for t in sim.world.transactions.values() if start <= t.time <= end),
            key=lambda t: t.time,
        )
        for t in rows:
            local = t.time.astimezone(PACIFIC)
            credit = t.amount >= 0
            record = dict.fromkeys(ACTIVITY_HEADER, "")
            record.update(
                {
                    "Date": local.strftime("%m/%d/%Y"),
                    "Time": local.strftime("%H:%M:%S"),
                    "TimeZone": "PDT" if local.dst() else "PST",
                    "Name": t.payer_name,
                    "Type": ACTIVITY_TYPE[t.kind],
                    "Status": "Completed",
                    "Currency": t.currency,
                    "Gross": money(t.amount),
                    "Fee": money(-t.fee),
                    "Net": money(t.amount - t.fee),
                    "From Email Address": t.payer_email if credit else acct.business,
                    "To Email Address": acct.business if credit else t.payer_email,
                    "Transaction ID": t.id,
                    "Item Title": t.item_name,
                    "Item ID": t.item_number,
                    "Reference Txn ID": t.parent_id or t.subscription_id,
                    "Custom Number": t.custom,
                    "Quantity": "1",
                    "Balance Impact": "Credit" if credit else "Debit",
                }
            )
            writer.writerow(record.values())
    disposition = {"Content-Disposition": 'attachment; filename="Download.CSV"'}
    return Response(out.getvalue(), mimetype="text/csv", headers=disposition)


def _date_arg(name: str, default: datetime):
    raw = request.args.get(name)
    if not raw:
        return default.replace(tzinfo=UTC)
    return parse_rfc3339(raw)
