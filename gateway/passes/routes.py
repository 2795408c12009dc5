"""The member's pass pages: Buy (a Standard Buy Now button, or an order created at PayPal)
and the return from an Orders approval. Ordinary member pages (CSRF on); nothing here
grants anything by itself: access opens when PayPal's word has been checked and applied.
The Standard return and the waiting page are the subscriptions' (`checkout.routes`)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select

from models import Checkout, Plan, db

from ..billing.rules.statuses import PlanKind
from ..checkout import journal as checkouts
from ..checkout import way_back
from ..checkout.rest import Refused, Unavailable, could_not_start
from ..clock import now
from ..paypal.api import ApiError
from ..paypal.urls import endpoints
from ..subscriptions import seats
from . import orders
from .button import buy_now_fields

bp = Blueprint("passes", __name__, url_prefix="/passes")


@bp.route("/buy/<code>", methods=["POST"])
@login_required
def buy(code: str) -> ResponseReturnValue:
    """Open (or reuse) a checkout for the pass, then hand the member to PayPal. Buying a
    pass one already holds extends it (from the later of now and its current end)."""
    plan = db.session.scalar(
        select(Plan).where(Plan.code == code, Plan.active.is_(True), Plan.kind == PlanKind.PASS)
    )
    if plan is None:
        abort(404, description="No such pass is on offer.")
    try:
        checkout = checkouts.open_checkout(current_user, plan, now())
    except seats.SoldOut:
        db.session.rollback()
        return render_template("member/sold_out.html", plan=plan), 409
    way_back.remember(checkout)
    db.session.commit()
    if orders.uses_orders():
        return _to_order_approval(checkout, plan)
    return render_template(
        "checkout/redirect.html",
        action=endpoints(current_app.config)["webscr"],
        fields=buy_now_fields(checkout, _public_url()),
        plan=plan,
    )


def _to_order_approval(checkout: Checkout, plan: Plan) -> ResponseReturnValue:
    try:
        approve = orders.begin(checkout, _public_url())
    except ApiError as e:
        could_not_start(e, f"an order for pass {plan.code}", "purchase", now())
    db.session.commit()
    return redirect(approve, 303)


@bp.route("/return")
@login_required
def returned() -> ResponseReturnValue:
    """PayPal's redirect after the buyer approved: ?cm=<our token>&token=<order id>&PayerID=…"""
    checkout = checkouts.own_checkout(request.args.get("cm", ""), current_user.id)
    if checkout is None:
        return render_template("checkout/return.html", checkout=None), 404
    try:
        orders.confirm(checkout, request.args.get("token", ""), now())
    except Refused as e:
        return render_template("checkout/refused.html", message=e.member_message), 409
    except Unavailable:
        return render_template(
            "checkout/return.html", checkout=checkout, delayed=True, return_to=way_back.of(checkout)
        )
    return render_template(
        "checkout/return.html", checkout=checkout, return_to=way_back.of(checkout)
    )


def _public_url() -> str:
    return str(current_app.config["PUBLIC_URL"] or request.url_root).rstrip("/")
