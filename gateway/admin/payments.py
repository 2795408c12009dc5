"""Admin: every payment PayPal reported, with its status and the period it bought."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import or_, select

from models import Payment, Subscription

from ..billing.statuses import PaymentStatus
from .queries import BadFilter, paginate, parse_page

bp = Blueprint("payments", __name__, url_prefix="/payments")
STATUSES = tuple(s.value for s in PaymentStatus)


@bp.route("")
def index() -> ResponseReturnValue:
    status = request.args.get("status", "")
    q = request.args.get("q", "").strip()[:64]
    try:
        page_no = parse_page(request.args.get("page", "1"))
        if status and status not in STATUSES:
            raise BadFilter(f"Unknown status {status!r}.")
    except BadFilter as e:
        abort(400, description=str(e))
    stmt = select(Payment).order_by(Payment.paid_at.desc(), Payment.id.desc())
    if status:
        stmt = stmt.where(Payment.status == status)
    if q:
        stmt = stmt.where(
            or_(
                Payment.txn_id == q,
                Payment.subscription_id.in_(
                    select(Subscription.id).where(Subscription.paypal_id == q)
                ),
            )
        )
    page = paginate(stmt, page_no, int(current_app.config["ADMIN_PAGE_SIZE"]))
    return render_template("admin/payments.html", page=page, status=status, q=q, statuses=STATUSES)
