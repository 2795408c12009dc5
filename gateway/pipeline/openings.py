"""Open a batch's new subscriptions together: the rows their first messages would create.

One by one (`first_row.create_subscription`), a subscription's first message looks up its
checkout and its plan, inserts the row, records the offer and claims the checkout: about
ten statements and a commit of its own. Here the batch's new subscriptions cost a few
statements together, and their messages are then applied in memory with the renewals
(pipeline/together.py).

Only the plain case comes here: the first message names an unclaimed checkout whose plan
no identifier in the message contradicts, on a plan without a seat limit, and no other
new subscription of the batch names the same checkout. Every such case creates a row
with no flag, exactly as the one-by-one path would. Anything else (no token, an unknown
or contradicting plan, a claimed checkout, seats, a warning) is left to the one-by-one
path, which raises the flags.

The checkouts are locked (in id order) before they are read, so two workers never claim
one; a subscription another worker created meanwhile makes the insert come back short,
and the caller applies the batch one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from models import Checkout, Notification, Plan, Subscription, SubscriptionTerms, db

from ..billing.rules.interpretation import Interpretation, PlanRef
from ..billing.rules.statuses import CheckoutStatus, SubscriptionState, TermsSource
from ..database import insert_new
from ..subscriptions import recorded_terms as agreed
from ..subscriptions.plan_identity import find_plan


class Mismatch(RuntimeError):
    """The database held more than was read under the locks (another worker created a
    subscription, stored a fact...), or a new subscription's message needs the one-by-one
    path: the caller abandons the transaction and applies the messages one by one."""


def open_together(items: Sequence[tuple[Notification, Interpretation]], now: datetime) -> set[int]:
    """Create the rows of the batch's new subscriptions that need no flag; their ids.
    Messages about the others find no row and are left to the one-by-one path."""
    firsts: dict[str, tuple[Notification, Interpretation]] = {}
    for note, meaning in sorted(items, key=lambda item: item[0].id):
        # A pass's purchase joins the member's pass row (pipeline/purchases.py): one by one.
        if not meaning.parent_txn_id and meaning.subscription_ref and not meaning.one_time:
            firsts.setdefault(meaning.subscription_ref, (note, meaning))
    if not firsts:
        return set()
    known = set(
        db.session.scalars(
            select(Subscription.paypal_id).where(Subscription.paypal_id.in_(sorted(firsts)))
        )
    )
    new = {ref: first for ref, first in firsts.items() if ref not in known}
    tokens = [m.member_token for _, m in new.values() if m.member_token]
    if not tokens:
        return set()
    checkouts = {
        c.token: c
        for c in db.session.scalars(
            select(Checkout)
            .where(Checkout.token.in_(sorted(set(tokens))))
            .order_by(Checkout.id)
            .with_for_update(of=Checkout)
            .execution_options(populate_existing=True)
        )
    }
    plans: dict[tuple[PlanRef, ...], Plan | None] = {}
    chosen: list[tuple[str, Notification, Interpretation, Checkout]] = []
    for ref, (note, meaning) in new.items():
        checkout = checkouts.get(meaning.member_token)
        if checkout is None or tokens.count(meaning.member_token) > 1 or meaning.warnings:
            continue
        if meaning.plan_refs not in plans:  # a launch names one plan: one lookup
            plans[meaning.plan_refs] = find_plan(meaning.plan_refs)
        named = plans[meaning.plan_refs]
        plan = checkout.plan
        if checkout.subscription_id is not None or plan.seat_limit is not None:
            continue
        if named is not None and named.id != plan.id:
            continue
        chosen.append((ref, note, meaning, checkout))
    if not chosen:
        return set()
    return _create(chosen, now)


def _create(
    chosen: list[tuple[str, Notification, Interpretation, Checkout]], now: datetime
) -> set[int]:
    """Insert the rows, their offers, and claim their checkouts (as `create_subscription`)."""
    rows = [
        {
            "paypal_id": ref,
            "plan_id": checkout.plan_id,
            "payer_email": meaning.payer_email[:254] or None,
            "state": SubscriptionState.PENDING.value,
            "created_at": now,
            "updated_at": now,
            "user_id": checkout.user_id,
        }
        for ref, _, meaning, checkout in chosen
    ]
    created = dict(
        (ref, sub_id)
        for sub_id, ref in insert_new(
            Subscription, rows, unique=("paypal_id",), returning=("id", "paypal_id")
        )
    )
    if len(created) != len(rows):
        raise Mismatch(f"{len(rows) - len(created)} subscription(s) were created meanwhile")
    offers: list[dict[str, Any]] = []
    for ref, note, _, checkout in chosen:
        offer = agreed.checkout_offer(checkout)
        offers.append(
            {
                "subscription_id": created[ref],
                "source": TermsSource.OFFER.value,
                "effective_at": now,
                "terms": offer.to_json(),
                "notification_id": note.id,
                "recorded_at": now,
            }
        )
        checkout.status, checkout.completed_at = CheckoutStatus.COMPLETED, now
        checkout.subscription_id = created[ref]
    insert_new(
        SubscriptionTerms,
        offers,
        unique=("subscription_id", "source", "effective_at"),
        returning=("id",),
    )
    return set(created.values())
