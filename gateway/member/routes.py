"""Member views: home, plans, my subscriptions, the gated areas."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from models import Checkout, Plan, Subscription, db

from ..access import role_required
from ..billing.statuses import SubscriptionState
from ..clock import now
from ..subscriptions.display import reason_of, status_of
from ..subscriptions.queries import renewing_plan_ids

bp = Blueprint("member", __name__)


@bp.route("/")
def index():
    return render_template("member/index.html")


@bp.route("/plans")
def plans():
    rows = db.session.scalars(
        select(Plan).where(Plan.active.is_(True)).order_by(Plan.role, Plan.price)
    ).all()
    renewing = renewing_plan_ids(current_user.id, now()) if current_user.is_authenticated else set()
    return render_template("member/plans.html", plans=rows, renewing=renewing)


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
    return render_template(
        "member/account.html",
        current=current,
        past=past,
        refused=refused,
        status=lambda s: status_of(s, at),
        reason=lambda s: reason_of(s, at),
    )


@bp.route("/premium")
@role_required("premium")
def premium():
    return render_template(
        "member/area.html",
        title="Premium library",
        body="Every premium article, guide and download lives here.",
    )


@bp.route("/pro")
@role_required("pro")
def pro():
    return render_template(
        "member/area.html", title="Pro workshop", body="Tools and sessions for pro members."
    )
