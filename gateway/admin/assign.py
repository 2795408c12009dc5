"""Admin: give a subscription its missing plan and/or member, from one screen."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from models import Plan, Subscription, User, db

from ..clock import now
from ..subscriptions import admin_actions
from . import subscription_page
from .forms import AssignForm

bp = Blueprint("assign", __name__, url_prefix="/subscriptions")


@bp.route("/<int:sub_id>/assign", methods=["POST"])
def assign(sub_id: int) -> ResponseReturnValue:
    sub = db.get_or_404(Subscription, sub_id, description="No such subscription.")
    form = subscription_page.assign_form(sub)
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
    return subscription_page.page(sub, form, 400)
