"""The row a subscription's first message creates, one message at a time (a batch of a
launch's plain first messages is opened together by pipeline/openings.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from models import Checkout, Notification, Plan, Subscription, db

from ..billing.rules.interpretation import Interpretation
from ..billing.rules.statuses import CheckoutStatus, SubscriptionState, TermsSource
from ..database import insert_new
from ..records.flags import raise_flag
from ..subscriptions import recorded_terms as agreed
from ..subscriptions import seats, service
from ..subscriptions.plan_identity import find_plan


def create_subscription(
    ref: str, meaning: Interpretation, note: Notification, now: datetime
) -> Subscription:
    """The first message about a subscription creates its row, whichever message it is.

    Money is never stranded: a row is created even when no identifier names a plan or no
    checkout names a member; each gap is flagged for an admin, who assigns the plan or
    the member, and access is then computed from everything already stored.

    Two first messages at once: the unique PayPal id lets one insert win; the other waits
    for it, inserts nothing and then locks the winner's row.
    """
    token = meaning.member_token
    checkout = None
    if token:
        checkout = db.session.scalar(select(Checkout).where(Checkout.token == token))
    named = find_plan(meaning.plan_refs)
    plan = checkout.plan if checkout is not None else named
    problems = []
    if checkout is not None and named is not None and named.id != checkout.plan_id:
        problems.append(
            (
                "plan",
                f"the message names plan {named.code}, but checkout {checkout.token} "
                f"was for {checkout.plan.code}; the checkout's plan was kept",
            )
        )
    if plan is None:
        refs = ", ".join(f"{r.kind.value} {r.value!r}" for r in meaning.plan_refs) or "none"
        problems.append(
            (
                "plan",
                f"unknown plan: no plan is named by the message's identifiers ({refs}); "
                "its payments are recorded; assign the plan to give access",
            )
        )
    if checkout is not None and checkout.subscription_id is not None:
        checkout = None  # a token already used: do not let it claim a second subscription
        problems.append(
            (
                "unclaimed",
                f"subscription {ref}: checkout token {token!r} is already linked "
                "to another subscription; assign a member",
            )
        )
    elif checkout is None:
        problems.append(
            (
                "unclaimed",
                f"subscription {ref} could not be tied to a member (no open "
                f"checkout for custom={token!r}); assign a member",
            )
        )
    created = insert_new(
        Subscription,
        [
            {
                "paypal_id": ref,
                "plan_id": plan.id if plan is not None else None,
                "payer_email": meaning.payer_email[:254] or None,
                "state": SubscriptionState.PENDING.value,
                "created_at": now,
                "updated_at": now,
                "user_id": checkout.user_id if checkout else None,
            }
        ],
        unique=("paypal_id",),
        returning=("id",),
    )
    sub = service.lock(Subscription.paypal_id == ref)
    if not created:  # another worker created it a moment ago
        return sub
    offer = (
        agreed.checkout_offer(checkout)
        if checkout is not None
        else agreed.plan_terms(plan)
        if plan is not None
        else None
    )
    if offer is not None:
        agreed.record_terms(sub, TermsSource.OFFER, now, offer, now, notification_id=note.id)
    if checkout is not None:
        checkout.status, checkout.completed_at = CheckoutStatus.COMPLETED, now
        checkout.subscription_id = sub.id
    if plan is not None:
        problems += _take_seat(checkout, sub, plan, now)
    for kind, message in problems:
        raise_flag(kind, message, now, notification_id=note.id, subscription_id=sub.id)
    return sub


def _take_seat(
    checkout: Checkout | None, sub: Subscription, plan: Plan, now: datetime
) -> list[tuple[str, str]]:
    """Confirm the subscription's seat on a limited plan. A payment whose hold lapsed while
    the plan sold out is still taken (an overflow seat): the admin refunds or honours it."""
    seat, overflow = seats.confirm(checkout, sub, plan, now)
    if seat is None or not overflow:
        return []
    came = "came after its checkout's seat hold had lapsed" if checkout else "names no checkout"
    return [
        (
            "seats",
            f"plan {plan.code} is sold out ({plan.seat_limit} seats): subscription {sub.paypal_id} "
            f"{came}, and took overflow seat {seat.seat_no}. Refund it, or honour it "
            "(resolving this flag honours it: the plan stays over its limit until a seat frees)",
        )
    ]
