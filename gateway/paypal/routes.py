"""PayPal's server-to-server endpoints only: store raw, answer, process after.

Each view is CSRF-exempt on its own (PayPal cannot send our token); member pages live
in `gateway.member` with ordinary CSRF protection.
"""

from __future__ import annotations

from functools import partial

from flask import Blueprint, Flask, abort, current_app, make_response, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from models import db

from ..billing.statuses import Channel
from ..clock import now
from ..extensions import csrf
from ..pipeline import intake, worker

bp = Blueprint("paypal", __name__, url_prefix="/paypal")
MAX_IPN_BYTES = 64 * 1024


@bp.route("/ipn", methods=["POST"])
@csrf.exempt
def ipn() -> ResponseReturnValue:
    """Store the exact bytes first; 200 only once they are committed, 503 if they cannot be."""
    raw = request.get_data(cache=False)  # before anything parses the stream
    if len(raw) > MAX_IPN_BYTES:
        abort(413, description="An IPN is never this large.")
    try:
        note = intake.store(Channel.IPN, raw, dict(request.headers), request.remote_addr, now())
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.exception("could not store an IPN; PayPal will re-send it")
        return "", 503
    response = make_response("", 200)
    if current_app.config["IPN_PROCESS_INLINE"]:
        response.call_on_close(
            partial(
                _process_after_answer,
                current_app._get_current_object(),  # type: ignore[attr-defined]
                note.id,
            )
        )
    return response


def _process_after_answer(app: Flask, note_id: int) -> None:
    with app.app_context():
        try:
            worker.process_one(note_id)
        except Exception:  # the worker or the next inline call will pick it up again
            app.logger.exception("inline processing of notification %s failed", note_id)
