"""PayPal's server-to-server endpoints only: store the raw bytes and answer. Nothing else.

These views never call PayPal, not even after answering: verification and applying
happen in inbox workers and the scheduler (`gateway/pipeline/worker.py`).

Each view is CSRF-exempt on its own (PayPal cannot send our token); member pages live
in `gateway.member` with ordinary CSRF protection.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from ..billing.statuses import Channel
from ..billing.webhook_events import event_id
from ..clock import now
from ..extensions import csrf
from ..pipeline import intake

bp = Blueprint("paypal", __name__, url_prefix="/paypal")
MAX_IPN_BYTES = 64 * 1024
#: PayPal's webhook events carry the whole resource; a subscription is a few KB.
MAX_WEBHOOK_BYTES = 256 * 1024


@bp.route("/ipn", methods=["POST"])
@csrf.exempt
def ipn() -> ResponseReturnValue:
    """Store the exact bytes first; 200 only once they are committed, 503 if they cannot be."""
    raw = request.get_data(cache=False)  # before anything parses the stream
    if len(raw) > MAX_IPN_BYTES:
        abort(413, description="An IPN is never this large.")
    try:
        intake.receive(Channel.IPN, raw, dict(request.headers), request.remote_addr, now())
    except SQLAlchemyError:
        current_app.logger.exception("could not store an IPN; PayPal will re-send it")
        return "", 503
    return "", 200


@bp.route("/webhook", methods=["POST"])
@csrf.exempt
def webhook() -> ResponseReturnValue:
    """Store the exact bytes and headers (the signature covers them) first; 200 once
    committed. Verification, de-duplication and applying happen in the inbox worker."""
    raw = request.get_data(cache=False)
    if len(raw) > MAX_WEBHOOK_BYTES:
        abort(413, description="A PayPal webhook event is never this large.")
    try:
        intake.receive(
            Channel.WEBHOOK,
            raw,
            dict(request.headers),
            request.remote_addr,
            now(),
            event_id=event_id(raw) or None,
        )
    except SQLAlchemyError:
        current_app.logger.exception("could not store a webhook; PayPal will re-send it")
        return "", 503
    return "", 200
