"""Admin: one payment, its refunds, and the refund form (`service.py` does the work).

A refund is asked on the payment's page, shown on a confirmation page (GET: what it
does, until when the member keeps access) and sent from there; a POST without the
confirmation (an old page's one-click form) goes to that page instead."""

from __future__ import annotations

import secrets
from decimal import Decimal

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DecimalField, HiddenField
from wtforms.validators import DataRequired, Length, NumberRange

from models import Payment, RefundOperation, Subscription, db

from ..billing import Fact, FactKind
from ..billing.rules.statuses import OperationStatus
from ..clock import now
from ..records.audit import CONFIRMED, ReasonForm
from ..subscriptions.display import access_after
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
        if request.form.get("confirm") != CONFIRMED:  # one click on an old page's form
            return redirect(_confirm_url(payment, form.amount.data, form.reason.data), 303)
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


class AskForm(FlaskForm):
    """The payment page's question, sent by GET to the confirmation page (no effect)."""

    class Meta:
        csrf = False

    amount = RefundForm.amount
    reason = ReasonForm.reason


def _confirm_url(payment: Payment, amount: Decimal, reason: str | None) -> str:
    return url_for(
        "admin.refunds.confirm", payment_id=payment.id, amount=str(amount), reason=reason or ""
    )


@bp.route("/<int:payment_id>/refund")
def confirm(payment_id: int) -> ResponseReturnValue:
    """What this refund does (money back, what is left, until when the member keeps
    access), with the form that sends it; nothing is sent from here."""
    payment = db.get_or_404(Payment, payment_id, description="No such payment.")
    ask = AskForm(formdata=request.args)
    if not ask.validate():
        for name, errors in ask.errors.items():
            flash(f"{ask[name].label.text}: {', '.join(errors)}", "error")
        return redirect(url_for("admin.refunds.payment_detail", payment_id=payment.id), 303)
    amount = ask.amount.data
    assert amount is not None  # validated
    left = refunds.refundable(payment)
    if amount > left.left:
        flash(f"At most {left.left} {payment.currency} is left to refund.", "error")
        return redirect(url_for("admin.refunds.payment_detail", payment_id=payment.id), 303)
    sub = db.session.get(Subscription, payment.subscription_id)
    assert sub is not None  # a payment belongs to a subscription
    refund = Fact(FactKind.REFUNDED, now(), "preview", payment.txn_id, -amount)
    form = RefundForm(formdata=None, amount=amount, reason=ask.reason.data)
    form.key.data = secrets.token_urlsafe(24)  # this page's one operation
    return render_template(
        "admin/refund.html",
        payment=payment,
        sub=sub,
        amount=amount,
        left=left,
        after=access_after(sub, refund),
        form=form,
        confirmed=CONFIRMED,
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
