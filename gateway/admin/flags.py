"""Admin: the flags queue, where the system hands a decision to a human."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import Select, select

from models import Flag, db

from ..clock import now
from ..paging import BadFilter, Paging, SortKey, requested
from ..records.flags import resolve
from .forms import ReasonForm

bp = Blueprint("flags", __name__, url_prefix="/flags")
#: Newest first on (created_at, id): the open queue reads the partial index of open flags
#: (`ix_flags_open`), the others `ix_flags_created_at_id`.
CREATED = SortKey(Flag.created_at, lambda f: f.created_at, datetime)


def listed(state: str) -> Select[Flag]:
    """The flags of a tab: open, resolved or all."""
    stmt = select(Flag)
    if state == "open":
        return stmt.where(Flag.resolved_at.is_(None))
    if state == "resolved":
        return stmt.where(Flag.resolved_at.is_not(None))
    return stmt


@bp.route("")
def index() -> ResponseReturnValue:
    state = request.args.get("state", "open")
    if state not in ("open", "resolved", "all"):
        abort(400, description="state must be open, resolved or all.")
    try:
        paging = Paging.from_args(request.args)
    except BadFilter as e:
        abort(400, description=str(e))
    page = requested(listed(state), "created", CREATED, Flag.id, True, paging)
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
