"""The REST buyer's approval: the page PayPal's approve link opens, and its approve/cancel post."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import redirect, render_template, request

from .formats import new_id
from .rest_base import bp, current_sim
from .state import Refused


@bp.route("/webapps/billing/subscriptions")
def approve_page():
    sim = current_sim()
    token = request.args.get("ba_token", "")
    sub = next((s for s in sim.world.subscriptions.values() if s.approval_token == token), None)
    if sub is None:
        return render_template("sim/error.html", message="This approval link is not valid."), 404
    return render_template("sim/approve_rest.html", sub=sub)


@bp.route("/sim/checkout/rest", methods=["POST"])
def approve_rest():
    sim = current_sim()
    token = request.form.get("ba_token", "")
    with sim.world.lock:
        sub = next((s for s in sim.world.subscriptions.values() if s.approval_token == token), None)
        if sub is None:
            return render_template(
                "sim/error.html", message="This approval link is not valid."
            ), 404
        if request.form.get("decision") != "approve":
            return redirect(sub.cancel_url or "/", 303)
        try:
            sim.approve_rest(
                sub,
                {
                    "email": request.form.get("email", ""),
                    "first_name": request.form.get("first_name", ""),
                    "last_name": request.form.get("last_name", ""),
                },
            )
        except Refused as e:
            return render_template("sim/error.html", message=str(e)), 409
    query = urlencode({"subscription_id": sub.id, "ba_token": token, "token": new_id("", 17)})
    target = sub.return_url or "/"
    return redirect(f"{target}{'&' if '?' in target else '?'}{query}", 303)
