"""Admin: the flags queue, where the system hands a decision to a human; and the decisions
some flags offer besides resolving: a waiting refund matched to a payment or dismissed, a
message PayPal disowned re-verified or applied after checking it at PayPal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import Select, select

from models import Flag, Notification, db

from ..clock import now
from ..paging import BadFilter, Paging, SortKey, requested
from ..pipeline import disowned, waiting
from ..pipeline.worker import reprocess
from ..records.audit import audit
from ..records.flags import resolve
from .forms import MatchForm, ReasonForm

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
    # Which flags offer a decision depends on their message's status now (one query).
    ids = {f.notification_id for f in page.items if f.notification_id and not f.resolved_at}
    statuses = dict(
        db.session.execute(
            select(Notification.id, Notification.status).where(Notification.id.in_(ids))
        ).all()
        if ids
        else []
    )
    return render_template(
        "admin/flags.html",
        page=page,
        state=state,
        form=ReasonForm(),
        match_form=MatchForm(),
        statuses=statuses,
        waiting_kind=waiting.KIND,
        disowned_kinds=disowned.DISOWNED_KINDS,
    )


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


@bp.route("/<int:flag_id>/match", methods=["POST"])
def match_payment(flag_id: int) -> ResponseReturnValue:
    """A refund waiting for a payment that never came: apply it to one of ours."""
    flag, note = _flag_and_message(flag_id, (waiting.KIND,))
    form = MatchForm()
    if not form.validate_on_submit():
        abort(400, description="Give our payment's transaction id and a reason.")
    return _decide(
        lambda at: waiting.match(note, form.txn_id.data, current_user, form.reason.data, at),
        f"Matched: message {note.id} will be applied to payment {form.txn_id.data.strip()}.",
    )


@bp.route("/<int:flag_id>/dismiss", methods=["POST"])
def dismiss(flag_id: int) -> ResponseReturnValue:
    """Resolve a waiting refund's or a disowned message's flag; a waiting one stops waiting."""
    flag, note = _flag_and_message(flag_id, (waiting.KIND, *disowned.DISOWNED_KINDS))
    reason = _reason()
    return _decide(
        lambda at: waiting.dismiss(note, flag, current_user, reason, at),
        f"Dismissed: message {note.id} has no effect.",
    )


@bp.route("/<int:flag_id>/reverify", methods=["POST"])
def reverify(flag_id: int) -> ResponseReturnValue:
    """Ask PayPal again about a message it disowned (a postback fault may have passed)."""
    flag, note = _flag_and_message(flag_id, disowned.DISOWNED_KINDS)
    reason = _reason()

    def again(at: datetime) -> None:
        reprocess(note, at)
        disowned.resolve_open(note, current_user, f"re-verification asked: {reason}", at)
        audit(current_user, "reverify", "notification", note.id, now=at, reason=reason)

    return _decide(again, f"Message {note.id} will be verified again; a new answer is flagged.")


@bp.route("/<int:flag_id>/accept", methods=["POST"])
def accept(flag_id: int) -> ResponseReturnValue:
    """The admin checked a disowned message at PayPal: apply it as verified."""
    flag, note = _flag_and_message(flag_id, disowned.DISOWNED_KINDS)
    reason = _reason()

    def apply_it(at: datetime) -> None:
        disowned.accept(note, current_user, reason, at)
        disowned.resolve_open(note, current_user, f"applied after checking at PayPal: {reason}", at)

    return _decide(apply_it, f"Message {note.id} will be applied as verified by you.")


def _flag_and_message(flag_id: int, kinds: tuple[str, ...]) -> tuple[Flag, Notification]:
    flag = db.get_or_404(Flag, flag_id, description="No such flag.")
    if flag.kind not in kinds or flag.notification_id is None:
        abort(400, description=f"A {flag.kind} flag offers no such decision.")
    if flag.resolved_at is not None:
        abort(409, description="This flag is already resolved.")
    note = db.session.get(Notification, flag.notification_id)
    assert note is not None  # notifications are never deleted
    return flag, note


def _reason() -> str:
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400, description="Give a reason (3 to 500 characters).")
    return str(form.reason.data)


def _decide(decision: Callable[[datetime], object], done: str) -> ResponseReturnValue:
    try:
        decision(now())
    except ValueError as e:
        db.session.rollback()
        flash(str(e).capitalize() + ".", "error")
        return redirect(request.referrer or url_for(".index")), 303
    db.session.commit()
    flash(done, "success")
    return redirect(request.referrer or url_for(".index")), 303
