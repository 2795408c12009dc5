"""Member views: home, plans, my subscriptions, receipts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy import func, select

from models import Checkout, Payment, Plan, Subscription, SubscriptionFact, db

from ..billing import Fact, FactKind
from ..billing.rules.statuses import SubscriptionState
from ..checkout import manage, rest_cancel
from ..clock import now, utc_text
from ..content.listing import listing
from ..paypal.api import ApiError
from ..paypal.urls import manage_url
from ..receipts import document
from ..records.audit import CONFIRMED
from ..subscriptions import cancel_reasons, seats
from ..subscriptions import recorded_terms as agreed
from ..subscriptions.cancel_reasons import REASONS
from ..subscriptions.display import (
    access_after,
    next_charge,
    pass_end,
    past_due,
    reason_facts,
    reason_of,
    status_of,
)
from ..subscriptions.queries import (
    double_billed,
    held_passes,
    renewing,
    renewing_plan_ids,
    sharing_a_role,
)
from . import bp
from . import manage as _manage_views  # noqa: F401  (its views are on `bp` too)

#: The plans page says how many seats are left once this few remain.
FEW_SEATS = 5


@bp.route("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico itself, whatever the page links: answer it, not 404."""
    return current_app.send_static_file("favicon.ico")


@bp.route("/")
def index():
    """Home: the content folder's own index (its intro and what it holds, open or
    locked for this visitor)."""
    return render_template("member/index.html", **listing("/"))


@bp.route("/plans")
def plans():
    return render_template("member/plans.html", **plan_cards(plans_on_offer()))


def plans_on_offer() -> list[Plan]:
    """Every plan on sale, cheapest first (the plans page; /gate/me without a URL)."""
    on_offer = (
        select(Plan)
        .where(Plan.active.is_(True), Plan.offer_code.is_(None))  # offers: by their link only
        .order_by(Plan.price, Plan.code)
    )
    return list(db.session.scalars(on_offer))


def plan_cards(rows: Sequence[Plan]) -> dict[str, Any]:
    """What templates/member/_plan_cards.html needs to offer `rows` to this visitor (the
    plans page offers them all; the gate's paywall those that open one URL)."""
    at = now()
    subs = renewing(current_user.id, at) if current_user.is_authenticated else []
    return {
        "plans": rows,
        "renewing": renewing_plan_ids(subs),
        "switch_from": {p.id: sharing_a_role(subs, p) for p in rows},
        "seats": seats.usage([p.id for p in rows], at),
        "holding": seats.held_by(current_user.id, at) if current_user.is_authenticated else set(),
        "few_seats": FEW_SEATS,
        "passes_held": held_passes(current_user.id, at) if current_user.is_authenticated else {},
    }


#: Payments the account page lists before a link to all of them.
RECENT_PAYMENTS = 24


@bp.route("/account")
@login_required
def account():
    at = now()
    subs = db.session.scalars(
        select(Subscription)
        .where(Subscription.user_id == current_user.id)
        .order_by(Subscription.access_until.desc())
    ).all()
    current = [
        s
        for s in subs
        if s.access_until is not None
        and s.access_until > at
        or s.state is SubscriptionState.PENDING
    ]
    past = [s for s in subs if s not in current]
    # What each row's cells read, for all rows at once rather than a few queries per row.
    rest_cancel.read_rest(subs)
    facts = reason_facts([s.id for s in subs])
    terms = agreed.histories([s.id for s in subs if s.renews])
    refused = db.session.scalars(
        select(Checkout).where(
            Checkout.user_id == current_user.id,
            Checkout.problem.is_not(None),
            Checkout.subscription_id.is_(None),
        )
    ).all()
    # The latest payments (a member of years has hundreds); `?payments=all` lists every one.
    every = request.args.get("payments") == "all"
    payments = db.session.scalars(
        select(Payment)
        .join(Subscription, Subscription.id == Payment.subscription_id)
        .where(Subscription.user_id == current_user.id)
        .order_by(Payment.paid_at.desc(), Payment.id.desc())
        .limit(None if every else RECENT_PAYMENTS + 1)
    ).all()
    older = not every and len(payments) > RECENT_PAYMENTS
    payments = payments if every else payments[:RECENT_PAYMENTS]
    return render_template(
        "member/account.html",
        current=current,
        past=past,
        refused=refused,
        payments=payments,
        older_payments=older,
        late=[
            (s.plan.name if s.plan else "Your subscription", s.grace_until)
            for s in subs
            if past_due(s, at)
        ],
        twice=double_billed(renewing(current_user.id, at)),
        manage_url=manage_url(current_app.config),
        cancellable={
            s.id for s in current if s.state is SubscriptionState.ACTIVE and rest_cancel.is_rest(s)
        },
        **manage_view(current),
        status=lambda s: status_of(s, at),
        reason=lambda s: reason_of(s, at, facts.get(s.id)),
        next_charge=lambda s: next_charge(s, at, terms.get(s.id, [])) or pass_end(s, at),
    )


@bp.route("/account/subscriptions/<int:sub_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(sub_id: int):
    """Cancel one of the member's own subscriptions at PayPal: REST by API, Standard by the
    classic API when configured (else the member cancels at PayPal); access stays until
    the paid-through date. Keeps the member's answer to "why?" if they gave one.

    GET shows what cancelling does and until when access lasts, with the form; a POST
    without its `confirm` field (an old page's one-click form) goes back to that page.
    """
    sub = db.session.scalar(
        select(Subscription).where(
            Subscription.id == sub_id, Subscription.user_id == current_user.id
        )
    )
    if sub is None:
        abort(404, description="No such subscription.")
    rest = rest_cancel.is_rest(sub)
    if not rest and not manage.can_cancel_classic(sub):
        abort(409, description="This subscription is cancelled at PayPal: see the Cancel section.")
    if request.method == "GET" or request.form.get("confirm") != CONFIRMED:
        at = now()
        after = access_after(sub, Fact(FactKind.CANCELLED, at, key="preview"))
        return render_template(
            "member/cancel.html",
            sub=sub,
            status=status_of(sub, at),
            next_charge=next_charge(sub, at),
            access_until=after.access_until,
            confirmed=CONFIRMED,
            reasons=REASONS,
        ), (200 if request.method == "GET" else 400)
    try:
        if rest:
            rest_cancel.cancel(sub, "Cancelled by the member", now())
        else:  # PayPal's subscr_cancel IPN follows and is applied like any message
            manage.cancel_classic(sub, "Cancelled by the member")
    except ApiError as e:
        current_app.logger.warning("member cancel of %s failed: %s", sub.paypal_id, e)
        abort(503, description="PayPal could not be reached; nothing changed. Please try again.")
    cancel_reasons.keep(sub, request.form.get("reason", ""), request.form.get("reason_note", ""))
    db.session.commit()
    db.session.refresh(sub)
    flash(
        f"Cancelled at PayPal: no more renewals. Your access stays until "
        f"{utc_text(sub.access_until)}."
        if sub.access_until
        else "Cancelled at PayPal.",
        "info",
    )
    return redirect(url_for("member.account"))


@bp.route("/account/receipts/<int:payment_id>")
@login_required
def receipt(payment_id: int):
    """A printable receipt for one of the member's own payments (an admin sees any; anyone
    else: 404)."""
    doc = document.load(payment_id, current_user, now())
    if doc is None:
        abort(404, description="No such receipt.")
    return render_template("member/receipt.html", doc=doc, rows=document.rows(doc))


@bp.route("/account/receipts/<int:payment_id>.pdf")
@login_required
def receipt_pdf(payment_id: int):
    """The same receipt as a PDF to file; none before PayPal settles the payment."""
    doc = document.load(payment_id, current_user, now())
    if doc is None or doc.number is None:
        abort(404, description="No such receipt.")
    from ..receipts import pdf  # fpdf2 loads only when a PDF is asked for

    response = make_response(pdf.render(doc, now()))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{doc.filename}"'
    response.headers["Cache-Control"] = "private, no-store"  # a member's own papers
    return response


@bp.route("/account/receipts/paypal/<txn_id>", defaults={"as_pdf": False})
@bp.route("/account/receipts/paypal/<txn_id>.pdf", defaults={"as_pdf": True})
@login_required
def receipt_by_txn(txn_id: str, as_pdf: bool):
    """The receipt of PayPal's transaction `txn_id`: the payment mail's links (the mail is
    written before its payment row has an id)."""
    payment_id = document.find_by_txn(txn_id, current_user)
    if payment_id is None:
        abort(404, description="No such receipt.")
    endpoint = "member.receipt_pdf" if as_pdf else "member.receipt"
    return redirect(url_for(endpoint, payment_id=payment_id))


def manage_view(current: Sequence[Subscription]) -> dict[str, Any]:
    """What templates/member/_manage.html needs: which subscriptions can be cancelled from
    here by the classic API, paused, resumed or moved to another plan in place."""
    plans = list(
        db.session.scalars(select(Plan).where(Plan.active.is_(True), Plan.offer_code.is_(None)))
    )
    return {
        "classic_cancel": {s.id for s in current if manage.can_cancel_classic(s)},
        "pausable": {s.id for s in current if manage.can_pause(s)},
        "resumable": {s.id for s in current if manage.can_resume(s)},
        "changeable": {s.id for s in current if manage.change_targets(s, plans)},
        "classic_configured": manage.nvp.configured(current_app.config),
        "paused_since": {
            s.id: db.session.scalar(
                select(func.max(SubscriptionFact.at)).where(
                    SubscriptionFact.subscription_id == s.id,
                    SubscriptionFact.kind == FactKind.SUSPENDED.value,
                )
            )
            for s in current
            if s.state is SubscriptionState.SUSPENDED
        },
    }
