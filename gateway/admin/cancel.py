"""Admin: cancel a subscription at PayPal (REST by the Subscriptions API, Standard by the
classic NVP API when configured), after a confirmation page saying what happens and until
when access lasts. The reason is internal (the audit log); PayPal reads a neutral note.
Nothing is recorded on our word: the state changes when PayPal's answer (REST, asked at
once) or its IPN (Standard) is applied, as for the member's own cancel."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from wtforms import TextAreaField

from models import Subscription, db

from ..billing import Fact, FactKind
from ..billing.rules.statuses import SubscriptionState
from ..checkout import manage
from ..clock import now, utc_text
from ..paypal.api import ApiError
from ..records.audit import CONFIRMED, REASON, ReasonForm
from ..subscriptions.display import access_after, status_of

bp = Blueprint("cancel", __name__, url_prefix="/subscriptions")
RENEWING = (SubscriptionState.ACTIVE, SubscriptionState.SUSPENDED)


class CancelForm(ReasonForm):
    reason = TextAreaField(
        "Internal reason (admins and the audit log only; PayPal and the member never see it)",
        validators=REASON,
    )


@bp.route("/<int:sub_id>/cancel", methods=["GET", "POST"])
def cancel(sub_id: int) -> ResponseReturnValue:
    """GET: what cancelling at PayPal does, with the form; the POST cancels only with the
    form's `confirm` field, else it shows that page again (400)."""
    sub = db.get_or_404(Subscription, sub_id, description="No such subscription.")
    kind = manage.admin_cancel_kind(sub)
    if not kind:
        abort(409, description=refusal(sub))
    form = CancelForm(prefix="cancel")
    if request.method == "POST" and not form.validate_on_submit():
        abort(400, description="; ".join(form.reason.errors) or "The form was incomplete.")
    if request.method == "GET" or request.form.get("confirm") != CONFIRMED:
        at = now()
        return render_template(
            "admin/cancel.html",
            sub=sub,
            form=form,
            kind=kind,
            via=manage.VIA[kind],
            status=status_of(sub, at),
            after=access_after(sub, Fact(FactKind.CANCELLED, at, key="preview")),
            confirmed=CONFIRMED,
        ), (200 if request.method == "GET" else 400)
    try:
        manage.cancel_by_admin(current_user, sub, form.reason.data, now())
    except ApiError as e:
        db.session.rollback()
        current_app.logger.warning("admin cancel of %s failed: %s", sub.paypal_id, e)
        abort(503, description="PayPal could not be reached or refused; nothing changed.")
    db.session.commit()
    db.session.refresh(sub)
    if sub.cancelled_at is not None:
        until = f" Access lasts until {utc_text(sub.access_until)}." if sub.access_until else ""
        flash(f"Cancelled at PayPal: no more renewals.{until}", "success")
    else:
        flash(
            "PayPal accepted the cancellation; the subscription shows it once PayPal's "
            "message about it has been applied.",
            "success",
        )
    return redirect(url_for("admin.subscription_detail", sub_id=sub.id)), 303


def refusal(sub: Subscription) -> str:
    """Why this subscription has no "cancel at PayPal" here."""
    if not sub.paypal_id:
        return "A manual grant has no PayPal side: revoke it instead."
    if manage.is_rest(sub) or sub.state not in RENEWING:
        return "This subscription no longer renews at PayPal."
    return (
        "A Standard subscription is cancelled here only with the classic API's credentials "
        "(PAYPAL_NVP_*); else cancel it in PayPal's own account pages."
    )
