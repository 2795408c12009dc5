"""Member views: home, plans, my subscriptions, receipts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy import select

from models import Checkout, Payment, Plan, Subscription, db

from ..billing import Fact, FactKind
from ..billing.rules.statuses import SubscriptionState
from ..checkout import rest_cancel
from ..clock import now, utc_text
from ..content.listing import listing
from ..paypal.api import ApiError
from ..paypal.urls import manage_url
from ..records.audit import CONFIRMED
from ..subscriptions import seats
from ..subscriptions.display import access_after, next_charge, past_due, reason_of, status_of
from ..subscriptions.queries import (
    double_billed,
    renewing,
    renewing_plan_ids,
    sharing_a_role,
)

bp = Blueprint("member", __name__)

#: The plans page says how many seats are left once this few remain.
FEW_SEATS = 5


@bp.route("/")
def index():
    """Home: the content folder's own index (its intro and what it holds, open or
    locked for this visitor)."""
    return render_template("member/index.html", **listing("/"))


@bp.route("/plans")
def plans():
    rows = db.session.scalars(
        select(Plan).where(Plan.active.is_(True)).order_by(Plan.price, Plan.code)
    ).all()
    return render_template("member/plans.html", **plan_cards(rows))


def plan_cards(rows: Sequence[Plan]) -> dict[str, Any]:
    """What templates/member/_plan_cards.html needs to offer `rows` to this visitor (the
    plans page offers them all; the gate's paywall those that open one URL)."""
    at = now()
    subs = renewing(current_user.id, at) if current_user.is_authenticated else []
    return {
        "plans": rows,
        "renewing": renewing_plan_ids(subs),
        "switch_from": {p.id: sharing_a_role(subs, p) for p in rows},
        "seats": seats.usage([p.id for p in rows], at),
        "holding": seats.held_by(current_user.id, at) if current_user.is_authenticated else set(),
        "few_seats": FEW_SEATS,
    }


@bp.route("/account")
@login_required
def account():
    at = now()
    subs = db.session.scalars(
        select(Subscription)
        .where(Subscription.user_id == current_user.id)
        .order_by(Subscription.access_until.desc())
    ).all()
    current = [
        s
        for s in subs
        if s.access_until is not None
        and s.access_until > at
        or s.state is SubscriptionState.PENDING
    ]
    past = [s for s in subs if s not in current]
    refused = db.session.scalars(
        select(Checkout).where(
            Checkout.user_id == current_user.id,
            Checkout.problem.is_not(None),
            Checkout.subscription_id.is_(None),
        )
    ).all()
    payments = db.session.scalars(
        select(Payment)
        .join(Subscription, Subscription.id == Payment.subscription_id)
        .where(Subscription.user_id == current_user.id)
        .order_by(Payment.paid_at.desc())
    ).all()
    return render_template(
        "member/account.html",
        current=current,
        past=past,
        refused=refused,
        payments=payments,
        late=[
            (s.plan.name if s.plan else "Your subscription", s.grace_until)
            for s in subs
            if past_due(s, at)
        ],
        twice=double_billed(renewing(current_user.id, at)),
        manage_url=manage_url(current_app.config),
        cancellable={
            s.id for s in current if s.state is SubscriptionState.ACTIVE and rest_cancel.is_rest(s)
        },
        status=lambda s: status_of(s, at),
        reason=lambda s: reason_of(s, at),
        next_charge=lambda s: next_charge(s, at),
    )


@bp.route("/account/subscriptions/<int:sub_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(sub_id: int):
    """Cancel one of the member's own REST subscriptions at PayPal (by API); access stays
    until its paid-through date. Standard ones are cancelled at PayPal by the member.

    GET shows what cancelling does and until when access lasts, with the form; a POST
    without its `confirm` field (an old page's one-click form) goes back to that page.
    """
    sub = db.session.scalar(
        select(Subscription).where(
            Subscription.id == sub_id, Subscription.user_id == current_user.id
        )
    )
    if sub is None:
        abort(404, description="No such subscription.")
    if not rest_cancel.is_rest(sub):
        abort(409, description="This subscription is cancelled at PayPal: see the Cancel section.")
    if request.method == "GET" or request.form.get("confirm") != CONFIRMED:
        at = now()
        after = access_after(sub, Fact(FactKind.CANCELLED, at, key="preview"))
        return render_template(
            "member/cancel.html",
            sub=sub,
            status=status_of(sub, at),
            next_charge=next_charge(sub, at),
            access_until=after.access_until,
            confirmed=CONFIRMED,
        ), (200 if request.method == "GET" else 400)
    try:
        rest_cancel.cancel(sub, "Cancelled by the member", now())
    except ApiError as e:
        current_app.logger.warning("member cancel of %s failed: %s", sub.paypal_id, e)
        abort(503, description="PayPal could not be reached; nothing changed. Please try again.")
    db.session.commit()
    db.session.refresh(sub)
    flash(
        f"Cancelled at PayPal: no more renewals. Your access stays until "
        f"{utc_text(sub.access_until)}."
        if sub.access_until
        else "Cancelled at PayPal.",
        "info",
    )
    return redirect(url_for("member.account"))


@bp.route("/account/receipts/<int:payment_id>")
@login_required
def receipt(payment_id: int):
    """A printable receipt for one of the member's own payments (anyone else's: 404)."""
    payment = db.session.scalar(
        select(Payment)
        .join(Subscription, Subscription.id == Payment.subscription_id)
        .where(Payment.id == payment_id, Subscription.user_id == current_user.id)
    )
    if payment is None:
        abort(404, description="No such receipt.")
    sub = db.session.get(Subscription, payment.subscription_id)
    return render_template("member/receipt.html", payment=payment, sub=sub)
