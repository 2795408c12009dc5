"""Which pass a one-time purchase belongs to (called by `apply` for messages whose
interpretation is `one_time`).

A member holds one pass row per pass plan: a purchase is tied to its member by our
checkout token (`custom` / `custom_id`), claimed once per checkout, and adds its payment to
that member's pass of the plan, so buying again extends it (the billing core lays the
terms end to end). A purchase no checkout names still gets its own row, flagged for an
admin (money is never stranded), as a subscription's first message does.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from models import Checkout, Notification, Payment, Subscription, db

from ..billing.rules.interpretation import Interpretation
from ..billing.rules.statuses import CheckoutStatus, PlanKind, SubscriptionState, TermsSource
from ..database import lock_keys
from ..subscriptions import recorded_terms as agreed
from ..subscriptions import seats, service
from ..subscriptions.plan_identity import find_plan
from .first_row import create_subscription
from .problems import Flagged

NOT_A_PASS = (
    "Your payment was for a product we sell as a subscription, not as a one-time purchase, "
    "so it gives no access by itself. Please contact us: we will sort it out with you."
)


def pass_for(meaning: Interpretation, note: Notification, now: datetime) -> Subscription:
    """The (locked) pass row this purchase's message applies to; created if needed.
    Raises `Flagged` when the purchase is for a plan that is not a pass."""
    ref = meaning.subscription_ref
    if not ref:
        raise Flagged("unreadable", "the one-time payment names no transaction or order")
    checkout = _checkout(meaning.member_token)
    # One purchase at a time per checkout (and per purchase without one): the claim and the
    # choice of row are made once, whichever of its messages comes first.
    lock_keys([f"purchase:{checkout.token if checkout else ref}"])
    known = _known(meaning, ref)
    if known is not None:
        return known
    plan = checkout.plan if checkout is not None else find_plan(meaning.plan_refs)
    if plan is not None and plan.kind is not PlanKind.PASS:
        raise Flagged(
            "terms",
            f"one-time payment {ref} for plan {plan.code}, which is a subscription, not a "
            "pass: nothing granted (a tampered button, or a button made by hand)",
            member_message=NOT_A_PASS,
        )
    if checkout is not None and _claim(checkout, ref):
        current = _current_pass(checkout.user_id, checkout.plan_id)
        if current is not None:
            return _extend(current, checkout, now, note.id)
    return create_subscription(ref, meaning, note, now)


def _checkout(token: str) -> Checkout | None:
    if not token:
        return None
    return db.session.scalar(select(Checkout).where(Checkout.token == token[:40]))


def _known(meaning: Interpretation, ref: str) -> Subscription | None:
    """The pass a message about an already known purchase belongs to: by its payment (a
    Completed after its Pending; a capture first learnt on the return), else its row."""
    txn = meaning.payment.txn_id if meaning.payment else meaning.txn_id
    if txn:
        sub_id = db.session.scalar(select(Payment.subscription_id).where(Payment.txn_id == txn))
        if sub_id is not None:
            return service.lock(Subscription.id == sub_id)
    found = service.lock(Subscription.paypal_id == ref, missing_ok=True)
    if found is not None:
        return found
    # A purchase that extended an earlier pass: its checkout names it and that row.
    linked = db.session.scalar(
        select(Checkout.subscription_id).where(Checkout.paypal_subscription_id == ref)
    )
    return service.lock(Subscription.id == linked) if linked is not None else None


def _claim(checkout: Checkout, ref: str) -> bool:
    """Claim the checkout for this purchase; False when another purchase already has it
    (a token used twice: the second purchase is not tied to the member)."""
    if checkout.paypal_subscription_id:
        return checkout.paypal_subscription_id == ref
    try:
        with db.session.begin_nested():
            db.session.execute(
                update(Checkout)
                .where(Checkout.id == checkout.id, Checkout.paypal_subscription_id.is_(None))
                .values(paypal_subscription_id=ref)
            )
    except IntegrityError:  # another checkout claims this purchase: it is that one's
        return False
    db.session.refresh(checkout)
    return checkout.paypal_subscription_id == ref


def _current_pass(user_id: int, plan_id: int) -> Subscription | None:
    """The member's pass of this plan, which a new purchase extends (a revoked one is left
    alone: the new purchase starts a row of its own)."""
    sub_id = db.session.scalar(
        select(Subscription.id)
        .where(
            Subscription.user_id == user_id,
            Subscription.plan_id == plan_id,
            Subscription.state != SubscriptionState.REVOKED,
        )
        .order_by(Subscription.id.desc())
        .limit(1)
    )
    return service.lock(Subscription.id == sub_id) if sub_id is not None else None


def _extend(sub: Subscription, checkout: Checkout, now: datetime, note_id: int) -> Subscription:
    """Tie a new purchase's checkout to the member's pass, with what this checkout offered
    in force from the checkout's opening (its payment is checked against that)."""
    offer = agreed.checkout_offer(checkout)
    agreed.record_terms(sub, TermsSource.OFFER, checkout.created_at, offer, now, note_id)
    checkout.status, checkout.completed_at = CheckoutStatus.COMPLETED, now
    checkout.subscription_id = sub.id
    seats.release_checkout(checkout)  # the pass already holds its seat
    return sub
