"""The member's own changes to a subscription: change plan in place, pause and resume,
and the confirm pages (GET, then a POST form: no JavaScript needed) before each."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select

from models import Plan, Subscription, db

from ..checkout import manage, rest_cancel
from ..clock import now, utc_text
from ..paypal.api import ApiError
from . import bp

UNREACHABLE = "PayPal could not be reached; nothing changed. Please try again."


def own(sub_id: int) -> Subscription:
    """One of the member's own subscriptions (anyone else's: 404)."""
    sub = db.session.scalar(
        select(Subscription).where(
            Subscription.id == sub_id, Subscription.user_id == current_user.id
        )
    )
    if sub is None:
        abort(404, description="No such subscription.")
    return sub


@bp.route("/account/subscriptions/<int:sub_id>/pause", methods=["GET", "POST"])
@login_required
def pause(sub_id: int) -> ResponseReturnValue:
    sub = own(sub_id)
    if not manage.can_pause(sub):
        abort(409, description="This subscription cannot be paused here.")
    if request.method == "GET":
        return render_template(
            "member/confirm_action.html",
            sub=sub,
            title=f"Pause {sub.plan.name if sub.plan else 'this subscription'}?",
            lines=[
                "PayPal stops charging you until you resume.",
                f"You keep the access you paid for, until {utc_text(sub.paid_through)}; "
                "after that it lapses until you resume."
                if sub.paid_through
                else "",
                "When you resume, PayPal bills again from that day.",
            ],
            action=url_for("member.pause", sub_id=sub.id),
            button="Pause my subscription",
        )
    return _call(sub, manage.pause, "Paused at PayPal: no charges until you resume.")


@bp.route("/account/subscriptions/<int:sub_id>/resume", methods=["GET", "POST"])
@login_required
def resume(sub_id: int) -> ResponseReturnValue:
    sub = own(sub_id)
    if not manage.can_resume(sub):
        abort(409, description="This subscription is not paused.")
    if request.method == "GET":
        price = f"{sub.plan.price} {sub.plan.currency}" if sub.plan else "the plan's price"
        return render_template(
            "member/confirm_action.html",
            sub=sub,
            title=f"Resume {sub.plan.name if sub.plan else 'this subscription'}?",
            lines=[f"PayPal resumes billing today: {price} every period from now on."],
            action=url_for("member.resume", sub_id=sub.id),
            button="Resume billing",
            destructive=False,
        )
    return _call(sub, manage.resume, "Resumed at PayPal: billing continues.")


def _call(sub: Subscription, action, done: str) -> ResponseReturnValue:
    try:
        action(sub, now())
    except ApiError as e:
        current_app.logger.warning("%s of %s failed: %s", action.__name__, sub.paypal_id, e)
        abort(503, description=UNREACHABLE)
    db.session.commit()
    flash(done, "info")
    return redirect(url_for("member.account"))


@bp.route("/account/subscriptions/<int:sub_id>/change")
@login_required
def change_plans(sub_id: int) -> ResponseReturnValue:
    """The plans this subscription can move to in place (REST only)."""
    sub = own(sub_id)
    plans = list(db.session.scalars(select(Plan).order_by(Plan.price, Plan.code)))
    targets = manage.change_targets(sub, plans)
    if not targets:
        abort(409, description="This subscription cannot change plan in place: see Plans.")
    return render_template("member/change_plan.html", sub=sub, targets=targets, preview=None)


@bp.route("/account/subscriptions/<int:sub_id>/change/<code>", methods=["GET", "POST"])
@login_required
def change_plan(sub_id: int, code: str) -> ResponseReturnValue:
    """GET: what the member pays and when; POST: ask PayPal (maybe to approve there)."""
    sub = own(sub_id)
    plans = list(db.session.scalars(select(Plan).order_by(Plan.price, Plan.code)))
    plan = next((p for p in manage.change_targets(sub, plans) if p.code == code), None)
    if plan is None:
        abort(409, description="This subscription cannot move to that plan in place.")
    if request.method == "GET":
        return render_template(
            "member/change_plan.html", sub=sub, targets=[], preview=manage.preview(sub, plan)
        )
    back = url_for("member.plan_changed", sub_id=sub.id, _external=True)
    try:
        approve = manage.change_plan(
            sub, plan, back, url_for("member.account", _external=True), now()
        )
    except ApiError as e:
        current_app.logger.warning("revise of %s failed: %s", sub.paypal_id, e)
        abort(503, description=UNREACHABLE)
    db.session.commit()
    if approve:
        return redirect(approve, 303)
    flash(_changed_text(sub, plan), "info")
    return redirect(url_for("member.account"))


@bp.route("/account/subscriptions/<int:sub_id>/changed")
@login_required
def plan_changed(sub_id: int) -> ResponseReturnValue:
    """Back from approving at PayPal: a hint only. PayPal is asked; its answer decides."""
    sub = own(sub_id)
    if not sub.paypal_id or not rest_cancel.is_rest(sub):
        abort(409, description="This subscription does not change plan in place.")
    try:
        manage.learn(sub, now())
    except ApiError as e:
        current_app.logger.warning("asking about %s failed: %s", sub.paypal_id, e)
        flash(
            "PayPal could not be asked just now; your plan changes once PayPal confirms it.", "info"
        )
        return redirect(url_for("member.account"))
    db.session.commit()
    db.session.refresh(sub)
    flash(_changed_text(sub, sub.plan), "info")
    return redirect(url_for("member.account"))


def _changed_text(sub: Subscription, plan: Plan | None) -> str:
    db.session.refresh(sub)
    if plan is not None and sub.plan_id == plan.id:
        return f"PayPal confirmed: your subscription is now {plan.name}."
    return "Your plan changes as soon as PayPal confirms it."
