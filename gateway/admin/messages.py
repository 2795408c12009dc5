"""Admin: the raw message log, one message exactly as received, and re-processing."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import load_only

from models import Flag, Notification, SubscriptionFact, db

from ..billing.formats.ipn import decode_body
from ..billing.rules.statuses import Channel, NotificationStatus
from ..clock import now
from ..paging import BadFilter, Paging, SortKey, requested
from ..pipeline.worker import reprocess
from ..records.audit import audit
from . import message_search as search
from .forms import ReasonForm

bp = Blueprint("messages", __name__, url_prefix="/messages")
STATUSES = tuple(s.value for s in NotificationStatus)
#: Newest first by id (the order they were received in), on the primary key: no index
#: more to write on the table PayPal's intake inserts into.
BY_ID = SortKey(Notification.id, lambda n: n.id, int)
#: What a row of the list shows: never the body or headers, which can be large.
LISTED = (
    Notification.id,
    Notification.received_at,
    Notification.txn_type,
    Notification.payment_status,
    Notification.status,
    Notification.txn_id,
    Notification.subscr_id,
    Notification.verification,
    Notification.outcome,
    Notification.error,
)


@bp.route("")
def index() -> ResponseReturnValue:
    status = request.args.get("status", "")
    txn_type = request.args.get("type", "")[:64]
    q = request.args.get("q", "").strip()[:200]
    try:
        paging = Paging.from_args(request.args)
        if status and status not in STATUSES:
            raise BadFilter(f"Unknown status {status!r}.")
    except BadFilter as e:
        abort(400, description=str(e))
    stmt = select(Notification)
    if status:
        stmt = stmt.where(Notification.status == status)
    if txn_type:  # (txn_type, id): the type's messages newest first, from the index
        stmt = stmt.where(Notification.txn_type == txn_type)
    if q:
        stmt = stmt.where(search.matching(q))
    # Each page's ids first (the type's index carries the status), then its rows.
    rows = select(Notification).options(load_only(*LISTED))
    page = requested(stmt, "id", BY_ID, Notification.id, True, paging, rows_of=rows)
    return render_template(
        "admin/messages.html",
        page=page,
        status=status,
        txn_type=txn_type,
        q=q,
        statuses=STATUSES,
        types=search.known_types(),
    )


@bp.route("/<int:note_id>")
def detail(note_id: int) -> ResponseReturnValue:
    note = db.get_or_404(Notification, note_id, description="No such message.")
    if note.channel is Channel.IPN:
        fields, charset = decode_body(note.body)
        document = None
    else:  # webhooks and API answers are JSON: shown indented, as PayPal sent them
        fields, charset, document = {}, "UTF-8 JSON", _indented(note.body)
    facts = db.session.scalars(
        select(SubscriptionFact).where(SubscriptionFact.notification_id == note.id)
    ).all()
    flags = db.session.scalars(select(Flag).where(Flag.notification_id == note.id)).all()
    return render_template(
        "admin/message.html",
        note=note,
        fields=fields,
        charset=charset,
        document=document,
        raw=note.body.decode("utf-8" if document is not None else "latin-1", errors="replace"),
        facts=facts,
        flags=flags,
        form=ReasonForm(),
    )


def _indented(body: bytes) -> str | None:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:  # not JSON (a forgery, say): the raw body below is all there is
        return None


@bp.route("/<int:note_id>/raw")
def raw(note_id: int) -> ResponseReturnValue:
    note = db.get_or_404(Notification, note_id, description="No such message.")
    return Response(
        note.body,
        mimetype="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="message-{note.id}.bin"'},
    )


@bp.route("/<int:note_id>/reprocess", methods=["POST"])
def reprocess_message(note_id: int) -> ResponseReturnValue:
    note = db.get_or_404(Notification, note_id, description="No such message.")
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400, description="A reason is required to re-process a message.")
    if note.compacted_at is not None:
        flash(
            "This message's body was dropped after the retention period: nothing to re-process.",
            "error",
        )
        return redirect(url_for(".detail", note_id=note.id)), 303
    try:
        reprocess(note, now())
    except ValueError as e:
        flash(str(e).capitalize() + ".", "error")
        return redirect(url_for(".detail", note_id=note.id)), 303
    audit(current_user, "reprocess", "notification", note.id, now=now(), reason=form.reason.data)
    db.session.commit()
    flash("The message was queued again; a worker will process it shortly.", "success")
    return redirect(url_for(".detail", note_id=note.id)), 303
