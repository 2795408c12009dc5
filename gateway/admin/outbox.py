"""Admin: the mail outbox (without MAIL_SERVER, the demo's mails are read here)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from models import OutboxMail

from ..paging import BadFilter, Paging, SortKey, requested

bp = Blueprint("outbox", __name__, url_prefix="/outbox")
#: Newest first by id (the order they were queued in), on the primary key.
BY_ID = SortKey(OutboxMail.id, lambda m: m.id, int)


@bp.route("")
def index() -> ResponseReturnValue:
    try:
        paging = Paging.from_args(request.args)
    except BadFilter as e:
        abort(400, description=str(e))
    page = requested(select(OutboxMail), "id", BY_ID, OutboxMail.id, True, paging)
    return render_template(
        "admin/outbox.html", page=page, configured=bool(current_app.config["MAIL_SERVER"])
    )
