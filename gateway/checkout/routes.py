"""The member's checkout pages: subscribe, the return from PayPal, and its status.

Ordinary member pages (CSRF on). Nothing here grants anything: the return URL and its
query string are hints; access opens only when a verified message has been applied.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select

from models import Checkout, Payment, Plan, Subscription, db

from ..billing.rules.statuses import CheckoutStatus
from ..clock import now, utc_text
from ..paypal.api import ApiError
from ..paypal.urls import endpoints
from ..subscriptions import seats
from ..subscriptions.queries import renewing, renewing_plan_ids, sharing_a_role
from . import journal as checkouts
from . import rest as rest_checkout
from . import way_back

bp = Blueprint("checkout", __name__, url_prefix="/checkout")


@bp.route("/subscribe/<code>", methods=["POST"])
@login_required
def subscribe(code: str) -> ResponseReturnValue:
    """Open (or reuse) a checkout, then hand the member to PayPal with its token."""
    plan = db.session.scalar(select(Plan).where(Plan.code == code, Plan.active.is_(True)))
    if plan is None or (plan.offer_code and request.form.get("offer") != plan.offer_code):
        # A hidden offer's plan is sold only from its own link (gateway/offers).
        abort(404, description="No such plan is on offer.")
    subs = renewing(current_user.id, now())
    current = sharing_a_role(subs, plan)
    if current is not None and current.plan_id != plan.id and request.form.get("switch") != "1":
        abort(
            409,
            description=f"Your {current.plan.name if current.plan else 'current'} subscription "
            f"already opens this access. Use 'Switch' on the plans page: paying for both "
            "would charge you twice.",
        )
    if plan.id in renewing_plan_ids(subs):
        abort(
            409,
            description=f"You already have a renewing {plan.name} subscription; "
            "a second one would charge you twice.",
        )
    try:
        checkout = checkouts.open_checkout(current_user, plan, now())
    except seats.SoldOut:
        db.session.rollback()
        return render_template("member/sold_out.html", plan=plan), 409
    way_back.remember(checkout)
    if rest_checkout.uses_rest(plan):
        return _to_rest_approval(checkout, plan)
    db.session.commit()
    fields = checkouts.button_fields(checkout, plan, _public_url())
    return render_template(
        "checkout/redirect.html",
        action=endpoints(current_app.config)["webscr"],
        fields=fields,
        plan=plan,
    )


def _to_rest_approval(checkout: Checkout, plan: Plan) -> ResponseReturnValue:
    """Create the subscription at PayPal (Subscriptions API) and send the member to approve
    it. The checkout and its seat are committed first: PayPal may create the subscription
    even if its answer is lost, and a retry with the same token gets the same one back."""
    db.session.commit()
    try:
        approve = rest_checkout.begin(checkout, plan, _public_url())
    except ApiError as e:
        rest_checkout.could_not_start(
            e, f"a subscription for plan {plan.code}", "subscription", now()
        )
    db.session.commit()
    return redirect(approve, 303)


@bp.route("/return")
@login_required
def returned() -> ResponseReturnValue:
    """PayPal sends the buyer back here. Nothing in this request grants anything."""
    checkout = _own_checkout(request.args.get("cm", ""))
    return render_template(
        "checkout/return.html", checkout=checkout, return_to=way_back.of(checkout)
    )


@bp.route("/<token>/status")
@login_required
def status(token: str) -> ResponseReturnValue:
    """What the waiting page polls: has a verified message opened access yet?"""
    checkout = _own_checkout(token)
    if checkout is None:
        return jsonify(error="no such checkout"), 404
    sub = (
        db.session.get(Subscription, checkout.subscription_id) if checkout.subscription_id else None
    )
    open_ = bool(sub and sub.access_until and sub.access_until > now())
    until = sub.access_until if sub is not None and open_ else None
    # Opened by a free trial (no payment yet): the page must not say PayPal took money.
    free_trial = bool(
        sub is not None
        and open_
        and sub.trial_until is not None
        and db.session.scalar(select(Payment.id).where(Payment.subscription_id == sub.id).limit(1))
        is None
    )
    return jsonify(
        status=checkout.status.value,
        access=open_,
        free_trial=free_trial,
        access_until=until.isoformat() if until else None,
        access_until_text=utc_text(until) if until else None,
    )


@bp.route("/cancelled")
@login_required
def cancelled() -> ResponseReturnValue:
    """The member turned back at PayPal: the checkout closes and its seat is free again.
    A payment PayPal still reports for it later is linked all the same (by its token)."""
    checkout = _own_checkout(request.args.get("cm", ""))
    if checkout is not None and checkout.status is CheckoutStatus.OPEN:
        checkout.status = CheckoutStatus.CANCELLED
        seats.release_checkout(checkout)
        db.session.commit()
        flash("You cancelled at PayPal; nothing was charged.", "info")
    return redirect(url_for("member.plans"))


def _own_checkout(token: str) -> Checkout | None:
    return checkouts.own_checkout(token, current_user.id)


def _public_url() -> str:
    """Where PayPal sends the buyer back: PUBLIC_URL, else this request's site root (with
    its path prefix behind a proxy that mounts us under one)."""
    return str(current_app.config["PUBLIC_URL"] or request.url_root).rstrip("/")
