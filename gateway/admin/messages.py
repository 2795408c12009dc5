"""Admin: the raw message log, re-processing, payments, and the flags queue."""
from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select

from models import Flag, Notification, Payment, Subscription, SubscriptionFact, db

from ..billing.ipn import decode_body
from ..clock import now
from ..flags import resolve
from ..paypal.inbox import reprocess
from . import bp
from .forms import ReasonForm
from .queries import BadFilter, escape_like, paginate, parse_page


@bp.route("/messages")
def messages():
    status = request.args.get("status", "")
    txn_type = request.args.get("type", "")[:64]
    q = request.args.get("q", "").strip()[:200]
    try:
        page_no = parse_page(request.args.get("page", "1"))
        if status and status not in Notification.STATUSES:
            raise BadFilter(f"Unknown status {status!r}.")
    except BadFilter as e:
        abort(400, description=str(e))
    stmt = select(Notification).order_by(Notification.id.desc())
    if status:
        stmt = stmt.where(Notification.status == status)
    if txn_type:
        stmt = stmt.where(Notification.txn_type == txn_type)
    if q:
        like = f"%{escape_like(q.lower())}%"
        stmt = stmt.where(or_(func.lower(Notification.outcome).like(like, escape="\\"),
                              Notification.txn_id == q, Notification.subscr_id == q))
    page = paginate(stmt, page_no, int(current_app.config["ADMIN_PAGE_SIZE"]))
    types = db.session.scalars(select(Notification.txn_type).distinct()
                               .where(Notification.txn_type.is_not(None))).all()
    return render_template("admin/messages.html", page=page, status=status, txn_type=txn_type,
                           q=q, statuses=Notification.STATUSES, types=sorted(types))


@bp.route("/messages/<int:note_id>")
def message_detail(note_id: int):
    note = db.get_or_404(Notification, note_id, description="No such message.")
    fields, charset = decode_body(note.body)
    facts = db.session.scalars(select(SubscriptionFact).where(
        SubscriptionFact.notification_id == note.id)).all()
    flags = db.session.scalars(select(Flag).where(Flag.notification_id == note.id)).all()
    return render_template("admin/message.html", note=note, fields=fields, charset=charset,
                           raw=note.body.decode("latin-1"), facts=facts, flags=flags,
                           form=ReasonForm())


@bp.route("/messages/<int:note_id>/raw")
def message_raw(note_id: int):
    note = db.get_or_404(Notification, note_id, description="No such message.")
    return Response(note.body, mimetype="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="message-{note.id}.bin"'})


@bp.route("/messages/<int:note_id>/reprocess", methods=["POST"])
def message_reprocess(note_id: int):
    note = db.get_or_404(Notification, note_id, description="No such message.")
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400, description="A reason is required to re-process a message.")
    try:
        reprocess(note, now())
    except ValueError as e:
        flash(str(e).capitalize() + ".", "error")
        return redirect(url_for(".message_detail", note_id=note.id)), 303
    from ..subscriptions import audit
    audit(current_user, "reprocess", "notification", note.id, now=now(), reason=form.reason.data)
    db.session.commit()
    if current_app.config["IPN_PROCESS_INLINE"]:
        from ..paypal.inbox import process_one
        process_one(note.id)
    flash("The message was queued again.", "success")
    return redirect(url_for(".message_detail", note_id=note.id)), 303


@bp.route("/payments")
def payments():
    status = request.args.get("status", "")[:30]
    q = request.args.get("q", "").strip()[:64]
    try:
        page_no = parse_page(request.args.get("page", "1"))
    except BadFilter as e:
        abort(400, description=str(e))
    stmt = select(Payment).order_by(Payment.paid_at.desc(), Payment.id.desc())
    if status:
        stmt = stmt.where(Payment.status == status)
    if q:
        stmt = stmt.where(or_(Payment.txn_id == q, Payment.subscription_id.in_(
            select(Subscription.id).where(Subscription.paypal_id == q))))
    page = paginate(stmt, page_no, int(current_app.config["ADMIN_PAGE_SIZE"]))
    return render_template("admin/payments.html", page=page, status=status, q=q,
                           statuses=PAYMENT_STATUSES)


PAYMENT_STATUSES = ("Completed", "Pending", "Partially_Refunded", "Refunded", "Reversed")


@bp.route("/flags")
def flags():
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


@bp.route("/flags/<int:flag_id>/resolve", methods=["POST"])
def flag_resolve(flag_id: int):
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
    return redirect(request.referrer or url_for(".flags")), 303
