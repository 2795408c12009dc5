"""Admin: the flags queue, where the system hands a decision to a human."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from models import Flag, db

from ..clock import now
from ..paging import BadFilter, paginate, parse_page
from ..records.flags import resolve
from .forms import ReasonForm

bp = Blueprint("flags", __name__, url_prefix="/flags")


@bp.route("")
def index() -> ResponseReturnValue:
    state = request.args.get("state", "open")
    if state not in ("open", "resolved", "all"):
        abort(400, description="state must be open, resolved or all.")
    try:
        page_no = parse_page(request.args.get("page", "1"))
    except BadFilter as e:
        abort(400, description=str(e))
    stmt = select(Flag).order_by(Flag.created_at.desc(), Flag.id.desc())
    if state == "open":
        stmt = stmt.where(Flag.resolved_at.is_(None))
    elif state == "resolved":
        stmt = stmt.where(Flag.resolved_at.is_not(None))
    page = paginate(stmt, page_no, int(current_app.config["ADMIN_PAGE_SIZE"]))
    return render_template("admin/flags.html", page=page, state=state, form=ReasonForm())


@bp.route("/<int:flag_id>/resolve", methods=["POST"])
def resolve_flag(flag_id: int) -> ResponseReturnValue:
    flag = db.get_or_404(Flag, flag_id, description="No such flag.")
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400, description="Say how the flag was resolved (3 to 500 characters).")
    try:
        resolve(flag, current_user, form.reason.data, now())
    except ValueError as e:
        abort(409, description=str(e).capitalize() + ".")
    db.session.commit()
    flash("Flag resolved.", "success")
    return redirect(request.referrer or url_for(".index")), 303
