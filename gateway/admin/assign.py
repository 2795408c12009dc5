"""Admin: give a subscription its missing plan and/or member, from one screen."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select

from models import Checkout, Payment, Plan, Subscription, User, db

from ..clock import now
from ..subscriptions import admin_actions
from ..subscriptions.recorded_terms import plan_terms
from .forms import AssignForm

bp = Blueprint("assign", __name__, url_prefix="/subscriptions")
#: A checkout opened this close to a subscription's first message may be its member's.
NEAR = timedelta(days=1)


def assign_form(sub: Subscription) -> AssignForm:
    """The form, its plan choices led by the plans whose price matches the payments."""
    form = AssignForm(prefix="assign")
    amounts = {
        (p.amount, p.currency)
        for p in db.session.scalars(select(Payment).where(Payment.subscription_id == sub.id))
    }
    plans = db.session.scalars(select(Plan).order_by(Plan.code)).all()
    matching = [p for p in plans if (p.price, p.currency) in amounts]
    hint = {p.id: "  ← its payments match" for p in matching}
    form.plan.choices = [(0, "— keep as it is —")] + [
        (p.id, f"{p.code}: {plan_terms(p).describe()}{hint.get(p.id, '')}")
        for p in matching + [p for p in plans if p not in matching]
    ]
    return form


def member_candidates(sub: Subscription) -> list[User]:
    """Members the subscription may belong to: PayPal's payer e-mail, and members who
    opened a checkout for its plan within a day of it."""
    found: list[User] = []
    if sub.payer_email:
        found += db.session.scalars(
            select(User).where(func.lower(User.email) == sub.payer_email.lower())
        ).all()
    if sub.plan_id is not None:
        window = (sub.created_at - NEAR, sub.created_at + NEAR)
        found += db.session.scalars(
            select(User)
            .join(Checkout, Checkout.user_id == User.id)
            .where(Checkout.plan_id == sub.plan_id, Checkout.created_at.between(*window))
            .limit(10)
        ).all()
    return list(dict.fromkeys(found))


@bp.route("/<int:sub_id>/assign", methods=["POST"])
def assign(sub_id: int) -> ResponseReturnValue:
    sub = db.get_or_404(Subscription, sub_id, description="No such subscription.")
    form = assign_form(sub)
    if not form.validate_on_submit():
        return _refused(sub, form)
    plan = db.session.get(Plan, form.plan.data) if form.plan.data else None
    member = None
    if form.email.data:
        member = db.session.scalar(
            select(User).where(User.email == User.normalise_email(form.email.data))
        )
        if member is None:
            form.email.errors = [f"No member has the e-mail {form.email.data}."]
            return _refused(sub, form)
    try:
        notes = admin_actions.assign(current_user, sub, plan, member, form.reason.data, now())
    except ValueError as e:
        abort(409, description=str(e).capitalize() + ".")
    db.session.commit()
    for note in notes:
        flash(note, "error")
    flash("Assigned; access now follows every payment already recorded.", "success")
    return redirect(url_for("admin.subscription_detail", sub_id=sub.id)), 303


def _refused(sub: Subscription, form: AssignForm) -> ResponseReturnValue:
    """The subscription's page again, the form's errors on it and what was typed kept."""
    from .routes import subscription_page  # routes registers this blueprint

    return subscription_page(sub, form, 400)
