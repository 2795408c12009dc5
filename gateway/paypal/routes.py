"""The IPN endpoint (store raw, answer 200, process after) and the member's checkout pages."""
from __future__ import annotations

from functools import partial

from flask import (Flask, abort, current_app, jsonify, make_response, redirect,
                   render_template, request, url_for)
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from models import Checkout, Notification, Plan, Subscription, db

from ..auth.forms import EmptyForm
from ..clock import now
from ..extensions import csrf
from ..paypal_urls import endpoints
from ..subscriptions import renewing_plan_ids
from . import bp, checkout as checkouts, inbox

csrf.exempt(bp)   # PayPal cannot send our CSRF token; member forms below check it themselves
MAX_IPN_BYTES = 64 * 1024


@bp.route("/ipn", methods=["POST"])
def ipn():
    """Store the exact bytes first; 200 only once they are committed, 503 if they cannot be."""
    raw = request.get_data(cache=False)          # before anything parses the stream
    if len(raw) > MAX_IPN_BYTES:
        abort(413, description="An IPN is never this large.")
    at = now()
    note = Notification(channel="ipn", body=raw, headers=dict(request.headers),
                        remote_addr=(request.remote_addr or "")[:64], received_at=at,
                        status="pending", attempts=0, next_attempt_at=at)
    try:
        db.session.add(note)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.exception("could not store an IPN; PayPal will re-send it")
        return "", 503
    response = make_response("", 200)
    if current_app.config["IPN_PROCESS_INLINE"]:
        response.call_on_close(partial(_process_after_answer,
                                       current_app._get_current_object(), note.id))
    return response


def _process_after_answer(app: Flask, note_id: int) -> None:
    with app.app_context():
        try:
            inbox.process_one(note_id)
        except Exception:  # the worker or the next inline call will pick it up again
            app.logger.exception("inline processing of notification %s failed", note_id)


@bp.route("/subscribe/<code>", methods=["POST"])
@login_required
def subscribe(code: str):
    """Open (or reuse) a checkout, then hand the member to PayPal with its token."""
    if not EmptyForm().validate_on_submit():
        abort(400, description="The form expired; go back to the plans and try again.")
    plan = db.session.scalar(select(Plan).where(Plan.code == code, Plan.active.is_(True)))
    if plan is None:
        abort(404, description="No such plan is on offer.")
    if plan.id in renewing_plan_ids(current_user.id, now()):
        abort(409, description=f"You already have a renewing {plan.name} subscription; "
                               "a second one would charge you twice.")
    checkout = checkouts.open_checkout(current_user, plan, now())
    db.session.commit()
    fields = checkouts.button_fields(checkout, plan, _public_url())
    return render_template("paypal/redirect.html", action=endpoints(current_app.config)["webscr"],
                           fields=fields, plan=plan)


@bp.route("/return")
@login_required
def returned():
    """PayPal sends the buyer back here. Nothing in this request grants anything."""
    return render_template("paypal/return.html", checkout=_own_checkout(request.args.get("cm", "")))


@bp.route("/checkout/<token>/status")
@login_required
def checkout_status(token: str):
    checkout = _own_checkout(token)
    if checkout is None:
        return jsonify(error="no such checkout"), 404
    sub = db.session.get(Subscription, checkout.subscription_id) if checkout.subscription_id \
        else None
    open_ = bool(sub and sub.access_until and sub.access_until > now())
    return jsonify(status=checkout.status, access=open_,
                   access_until=sub.access_until.isoformat() if open_ else None,
                   access_until_text=f"{sub.access_until:%Y-%m-%d %H:%M} UTC" if open_ else None)


@bp.route("/cancelled")
@login_required
def cancelled():
    return redirect(url_for("member.plans"))


def _own_checkout(token: str) -> Checkout | None:
    """The current member's checkout with this token; another member's is not found."""
    return db.session.scalar(select(Checkout).where(Checkout.token == token[:40],
                                                    Checkout.user_id == current_user.id))


def _public_url() -> str:
    return (current_app.config["PUBLIC_URL"] or request.host_url).rstrip("/")
