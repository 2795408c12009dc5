"""Admin: one subscription's page, with everything an admin acts on there (the assign
card's form and the members it suggests). The assign view shows it again with a refused
form; routes.py shows it as is."""

from __future__ import annotations

from datetime import timedelta

from flask import render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import CompoundSelect, Select, select, union

from models import (
    AuditEntry,
    Checkout,
    Flag,
    Notification,
    Payment,
    Plan,
    Subscription,
    SubscriptionFact,
    User,
    db,
)

from ..checkout.manage import admin_cancel_kind
from ..clock import now
from ..subscriptions import cancel_reasons
from ..subscriptions.display import explanation, status_of
from ..subscriptions.recorded_terms import plan_terms
from .forms import AssignForm, UntilForm

#: A checkout opened this close to a subscription's first message may be its member's.
NEAR = timedelta(days=1)


def page(
    sub: Subscription, refused: AssignForm | None = None, code: int = 200
) -> ResponseReturnValue:
    """The subscription's page; `refused`: an assign form refused, shown with what was typed."""
    payments = db.session.scalars(
        select(Payment).where(Payment.subscription_id == sub.id).order_by(Payment.paid_at)
    ).all()
    facts = db.session.scalars(
        select(SubscriptionFact)
        .where(SubscriptionFact.subscription_id == sub.id)
        .order_by(SubscriptionFact.at, SubscriptionFact.id)
    ).all()
    audit = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.subject_type == "subscription", AuditEntry.subject_id == sub.id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    ).all()
    notes = db.session.scalars(
        select(Notification)
        .where(Notification.id.in_(messages_of(sub)))
        .order_by(Notification.received_at, Notification.id)
    ).all()
    flags = db.session.scalars(select(Flag).where(Flag.subscription_id == sub.id)).all()
    return render_template(
        "admin/subscription.html",
        sub=sub,
        payments=payments,
        facts=facts,
        audit=audit,
        status=status_of(sub, now()),
        notes=notes,
        flags=flags,
        why=explanation(sub),
        cancel_kind=admin_cancel_kind(sub),
        member_reason=cancel_reasons.label(sub),
        extend_form=UntilForm(prefix="extend"),
        assign_form=refused or assign_form(sub),
        candidates=member_candidates(sub),
    ), code


def messages_of(sub: Subscription) -> Select | CompoundSelect:
    """Ids of the messages about `sub`: those applied to it and those naming its PayPal id,
    each read from its own index (an OR of the two would scan every message)."""
    n = Notification
    applied = select(n.id).where(n.subscription_id == sub.id)
    if sub.paypal_id is None:
        return applied
    return union(applied, select(n.id).where(n.subscr_id == sub.paypal_id))


def assign_form(sub: Subscription) -> AssignForm:
    """The form, its plan choices led by the plans whose price matches the payments."""
    form = AssignForm(prefix="assign")
    amounts = {
        (p.amount, p.currency)
        for p in db.session.scalars(select(Payment).where(Payment.subscription_id == sub.id))
    }
    plans = db.session.scalars(select(Plan).order_by(Plan.code)).all()
    matching = [p for p in plans if (p.price, p.currency) in amounts]
    hint = {p.id: "  ← its payments match" for p in matching}
    form.plan.choices = [(0, "— keep as it is —")] + [
        (p.id, f"{p.code}: {plan_terms(p).describe()}{hint.get(p.id, '')}")
        for p in matching + [p for p in plans if p not in matching]
    ]
    return form


def member_candidates(sub: Subscription) -> list[User]:
    """Members the subscription may belong to: PayPal's payer e-mail, and members who
    opened a checkout for its plan within a day of it."""
    found: list[User] = []
    if sub.payer_email:
        found += db.session.scalars(
            # e-mails are stored lower-cased: the unique index finds it, no lower() scan
            select(User).where(User.email == User.normalise_email(sub.payer_email))
        ).all()
    if sub.plan_id is not None:
        window = (sub.created_at - NEAR, sub.created_at + NEAR)
        found += db.session.scalars(
            select(User)
            .join(Checkout, Checkout.user_id == User.id)
            .where(Checkout.plan_id == sub.plan_id, Checkout.created_at.between(*window))
            .limit(10)
        ).all()
    return list(dict.fromkeys(found))
