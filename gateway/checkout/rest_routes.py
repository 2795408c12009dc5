"""The member's return from a REST (Subscriptions API) checkout: PayPal's redirect, or the
JS SDK's onApprove posting the subscription id. Ordinary member pages (CSRF on).

Both carry a subscription id the browser chose; `rest_checkout.confirm` checks it with
PayPal before anything is linked.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from models import Checkout

from ..clock import now
from . import journal as checkouts
from . import rest as rest_checkout
from . import way_back

bp = Blueprint("rest_checkout", __name__, url_prefix="/checkout/rest")


@bp.route("/return")
@login_required
def returned() -> ResponseReturnValue:
    """PayPal's redirect after approval: ?cm=<our token>&subscription_id=I-...&ba_token=..."""
    checkout = _own_checkout(request.args.get("cm", ""))
    if checkout is None:
        return render_template("checkout/return.html", checkout=None), 404
    subscription_id = request.args.get("subscription_id", "")
    try:
        rest_checkout.confirm(checkout, subscription_id, now())
    except rest_checkout.Refused as e:
        return render_template("checkout/refused.html", message=e.member_message), 409
    except rest_checkout.Unavailable:
        return render_template(
            "checkout/return.html", checkout=checkout, delayed=True, return_to=way_back.of(checkout)
        )
    return render_template(
        "checkout/return.html", checkout=checkout, return_to=way_back.of(checkout)
    )


@bp.route("/<token>/approved", methods=["POST"])
@login_required
def approved(token: str) -> ResponseReturnValue:
    """The JS SDK's onApprove: {subscription_id} (form or JSON), with the CSRF header."""
    checkout = _own_checkout(token)
    if checkout is None:
        return jsonify(error="no such checkout"), 404
    data = request.get_json(silent=True) if request.is_json else request.form
    subscription_id = str((data or {}).get("subscription_id", ""))
    try:
        rest_checkout.confirm(checkout, subscription_id, now())
    except rest_checkout.Refused as e:
        return jsonify(error=e.member_message), 409
    except rest_checkout.Unavailable:
        pass  # the waiting page says so; the job keeps asking PayPal
    return jsonify(
        status_url=url_for("checkout.status", token=checkout.token),
        next=url_for("rest_checkout.waiting", token=checkout.token),
    )


@bp.route("/<token>/waiting")
@login_required
def waiting(token: str) -> ResponseReturnValue:
    checkout = _own_checkout(token)
    page = render_template(
        "checkout/return.html", checkout=checkout, return_to=way_back.of(checkout)
    )
    return page, (200 if checkout else 404)


def _own_checkout(token: str) -> Checkout | None:
    return checkouts.own_checkout(token, current_user.id)
