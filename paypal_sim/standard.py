"""PayPal Payments Standard: the `webscr` subscribe page and the IPN postback."""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from flask import Blueprint, current_app, redirect, render_template, request

from . import trials
from .forms import decode_form

bp = Blueprint("standard", __name__)

POSTBACK_PREFIX = b"cmd=_notify-validate&"
BUTTON_FIELDS = (
    "cmd",
    "business",
    "item_name",
    "item_number",
    "a1",
    "p1",
    "t1",
    "a2",
    "p2",
    "t2",
    "a3",
    "p3",
    "t3",
    "src",
    "srt",
    "sra",
    "custom",
    "notify_url",
    "return",
    "cancel_return",
    "currency_code",
    "charset",
    "no_note",
    "rm",
    "invoice",
)


def _sim():
    return current_app.extensions["paypal_sim"]


@bp.route("/cgi-bin/webscr", methods=["GET", "POST"])
def webscr():
    raw = request.get_data(cache=True) if request.method == "POST" else b""
    if b"cmd=_notify-validate" in raw:  # wherever it stands; only the prefix form verifies
        return postback(raw)
    form = decode_form(raw) if raw else request.args.to_dict()
    if form.get("cmd") == "_xclick":  # a Buy Now button (orders.py)
        from .orders import buy_now_page

        return buy_now_page(form)
    if form.get("cmd") != "_xclick-subscriptions":
        return _error_page(
            "This page takes PayPal subscribe buttons "
            "(cmd=_xclick-subscriptions) and IPN postbacks."
        )
    problem = _button_problem(form)
    if problem:
        return _error_page(problem)
    fields = {k: form[k] for k in BUTTON_FIELDS if k in form}
    return render_template(
        "sim/approve_standard.html", fields=fields, form=form, account=_sim().world.account
    )


def _button_problem(form: dict[str, str]) -> str:
    acct = _sim().world.account
    if form.get("business", "").strip().lower() not in (
        acct.business.lower(),
        acct.receiver_id.lower(),
    ):
        return "The link you have used to enter the PayPal system is invalid (unknown business)."
    try:
        if Decimal(form.get("a3", "")) <= 0:
            return "a3 (the regular amount) must be positive."
        int(form.get("p3", ""))
    except (InvalidOperation, ValueError):
        return "a3/p3 must be numbers."
    if form.get("t3", "").upper() not in ("D", "W", "M", "Y"):
        return "t3 must be D, W, M or Y."
    return trials.button_problem(form)


def _error_page(message: str):
    return render_template("sim/error.html", message=message), 400


@bp.route("/sim/checkout/standard", methods=["POST"])
def approve_standard():
    sim = _sim()
    form = request.form.to_dict()
    button = {k[2:]: v for k, v in form.items() if k.startswith("f_")}
    if form.get("decision") != "approve":
        return redirect(button.get("cancel_return") or "/", 303)
    problem = _button_problem(button)
    if problem:
        return _error_page(problem)
    payer = {
        "email": form.get("email", ""),
        "first_name": form.get("first_name", ""),
        "last_name": form.get("last_name", ""),
    }
    with sim.world.lock:
        sub = sim.start_standard(
            button, payer, "recurring" if form.get("ipn_style") == "recurring" else "subscr"
        )
    target = button.get("return") or "/"
    # Like PayPal's auto-return, a few variables ride along; the merchant must not trust them.
    sep = "&" if "?" in target else "?"
    return redirect(f"{target}{sep}{urlencode({'st': 'Completed', 'cm': sub.custom})}", 303)


def postback(raw: bytes):
    """Answer VERIFIED only for the exact bytes of an IPN we sent, prefixed with the cmd."""
    sim = _sim()
    fault = sim.outbox.take_postback_fault()
    if fault is not None:
        if fault.kind == "postback_html":
            return (
                "<html><head><title>Fatal Failure</title></head><body><h1>Fatal Failure"
                "</h1><p>Sorry, an error occurred.</p></body></html>",
                200,
                {"Content-Type": "text/html; charset=UTF-8"},
            )
        if fault.kind == "postback_hang":
            time.sleep(
                min(fault.seconds or 30.0, float(current_app.config["SIM_MAX_HANG_SECONDS"]))
            )
        if fault.kind == "postback_invalid":
            return "INVALID", 200, {"Content-Type": "text/plain"}
    verified = (
        raw.startswith(POSTBACK_PREFIX)
        and raw[len(POSTBACK_PREFIX) :] in sim.outbox.sent_ipn_bodies
    )
    return ("VERIFIED" if verified else "INVALID"), 200, {"Content-Type": "text/plain"}
