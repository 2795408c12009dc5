"""Admin: one payment, its refunds, and the refund form (`service.py` does the work)."""

from __future__ import annotations

import secrets
from decimal import Decimal

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from wtforms import DecimalField, HiddenField
from wtforms.validators import DataRequired, Length, NumberRange

from models import Payment, RefundOperation, db

from ..billing.rules.statuses import OperationStatus
from ..clock import now
from ..records.audit import ReasonForm
from . import service as refunds

bp = Blueprint("refunds", __name__, url_prefix="/payments")


class RefundForm(ReasonForm):
    amount = DecimalField(
        "Amount", places=2, validators=[DataRequired(), NumberRange(min=Decimal("0.01"))]
    )
    #: One key per rendered form: submitting it twice is one refund.
    key = HiddenField(validators=[DataRequired(), Length(min=16, max=40)])


@bp.route("/<int:payment_id>", methods=["GET", "POST"])
def payment_detail(payment_id: int) -> ResponseReturnValue:
    payment = db.get_or_404(Payment, payment_id, description="No such payment.")
    form = RefundForm()
    if form.validate_on_submit():
        assert form.amount.data is not None and form.key.data  # validators guarantee both
        try:
            op = refunds.request_refund(
                payment,
                form.amount.data,
                form.reason.data or "",
                current_user,
                form.key.data,
                now(),
            )
        except refunds.RefundRefused as e:
            db.session.rollback()
            flash(str(e), "error")
        else:
            flash(_said(op), "info" if op.status is not OperationStatus.FAILED else "error")
        return redirect(url_for("admin.refunds.payment_detail", payment_id=payment.id), 303)
    left = refunds.refundable(payment)
    if not form.is_submitted():
        form.amount.data = left.left
    form.key.data = secrets.token_urlsafe(24)  # a new form, a new operation
    operations = db.session.scalars(
        select(RefundOperation)
        .where(RefundOperation.payment_id == payment.id)
        .order_by(RefundOperation.requested_at.desc())
    ).all()
    return render_template(
        "admin/payment.html", payment=payment, left=left, form=form, operations=operations
    )


def _said(op: RefundOperation) -> str:
    if op.status is OperationStatus.DONE:
        return f"Refunded {op.amount} {op.currency} (PayPal refund {op.paypal_refund_id})."
    if op.status is OperationStatus.FAILED:
        return f"PayPal refused the refund: {op.error}"
    return (
        "The refund is sent; PayPal's answer is not recorded yet. It is asked again "
        "automatically with the same request id, so it happens once."
    )
