"""Cancelling a REST subscription through PayPal's API: by the member, or by us after a
plan switch so the member is not charged twice.

PayPal's cancel is immediate and final, but what was paid stays paid: the member keeps
access to the paid-through date (CANCEL_POLICY). We do not record the cancellation
ourselves: PayPal's own answer is asked for and applied like any message, so the
subscription shows what PayPal says, not what we hoped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from flask import g, has_request_context
from sqlalchemy import exists, select

from models import Checkout, Notification, Subscription, db

from ..billing.rules.statuses import Channel, CheckoutFlow
from ..paypal.api import ApiError, api_client
from ..pipeline.worker import process_one
from ..subscriptions.queries import double_billed, renewing
from .asking import ask


def is_rest(sub: Subscription) -> bool:
    """A subscription of the Subscriptions API (only those can be cancelled by API; a
    Payments Standard subscription is cancelled by the member at PayPal). Within a
    request the answer is kept (the account page asks it several times per row, and
    `read_rest` answers for all its rows in two queries). A pass bought through Orders v2
    is no subscription: nothing to cancel, pause or change."""
    if not sub.paypal_id or sub.is_pass:
        return False
    known = _request_cache()
    if known is not None and sub.id in known:
        return known[sub.id]
    by_checkout = exists().where(
        Checkout.subscription_id == sub.id, Checkout.channel == CheckoutFlow.REST
    )
    by_channel = exists().where(
        Notification.subscription_id == sub.id,
        Notification.channel.in_([Channel.WEBHOOK, Channel.API]),
    )
    answer = bool(db.session.scalar(select(by_checkout | by_channel)))
    if known is not None:
        known[sub.id] = answer
    return answer


def read_rest(subs: Sequence[Subscription]) -> None:
    """Answer `is_rest` for all of `subs` at once, for the rest of this request."""
    known = _request_cache()
    ids = [s.id for s in subs if s.paypal_id]
    if known is None or not ids:
        return
    rest = set(
        db.session.scalars(
            select(Checkout.subscription_id).where(
                Checkout.subscription_id.in_(ids), Checkout.channel == CheckoutFlow.REST
            )
        )
    )
    rest.update(
        db.session.scalars(
            select(Notification.subscription_id)
            .where(
                Notification.subscription_id.in_(ids),
                Notification.channel.in_([Channel.WEBHOOK, Channel.API]),
            )
            .distinct()
        )
    )
    known.update({i: i in rest for i in ids})


def _request_cache() -> dict[int, bool] | None:
    """This request's answers (None outside a request: a worker's app context lives on,
    and a subscription's channel may be learnt between two of its messages)."""
    if not has_request_context():
        return None
    return g.setdefault("rest_subscriptions", {})


def cancel(sub: Subscription, reason: str, now: datetime) -> None:
    """Ask PayPal to cancel, then learn and apply PayPal's answer. Raises ApiError.

    PayPal-Request-Id makes a double click one cancellation; PayPal answers 422 for a
    subscription that is already cancelled, which is what we wanted: its status is
    asked for either way.
    """
    assert sub.paypal_id
    api = api_client()
    try:
        api.cancel_subscription(
            sub.paypal_id, reason, request_id=f"tollgate-cancel-{sub.paypal_id}"
        )
    except ApiError as e:
        if e.status != 422:
            raise
    for note_id in ask(api, sub.paypal_id, sub.paid_through or sub.created_at, now):
        process_one(note_id)


def cancel_replaced(user_id: int, now: datetime) -> list[str]:
    """After a switch, cancel the member's older REST subscriptions whose role a newer one
    already grants. Returns the PayPal ids cancelled."""
    done = []
    for old in double_billed(renewing(user_id, now)):
        if is_rest(old):
            cancel(old, "Replaced by a new plan on the member's request", now)
            done.append(str(old.paypal_id))
    return done
