"""Admin: the mail outbox (without MAIL_SERVER, the demo's mails are read here)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from models import OutboxMail

from ..paging import BadFilter, paginate, parse_page

bp = Blueprint("outbox", __name__, url_prefix="/outbox")


@bp.route("")
def index() -> ResponseReturnValue:
    try:
        page_no = parse_page(request.args.get("page", "1"))
    except BadFilter as e:
        abort(400, description=str(e))
    stmt = select(OutboxMail).order_by(OutboxMail.id.desc())
    page = paginate(stmt, page_no, int(current_app.config["ADMIN_PAGE_SIZE"]))
    return render_template(
        "admin/outbox.html", page=page, configured=bool(current_app.config["MAIL_SERVER"])
    )
