"""Asking PayPal ourselves: a subscription's status and transactions, stored as `api`
notifications and applied by the pipeline like any other message.

Each answer is stored once per distinct content (its `event_id` names the status and
its time, or the transaction and its status), so asking again and again adds nothing
until PayPal's answer changes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from models import Notification, db

from ..billing.formats.api_answers import subscription_document, transaction_document
from ..billing.rules.statuses import Channel
from ..paypal.api import PayPalApi
from ..pipeline import intake

#: How far before the last known payment the transactions are asked for.
LOOK_BACK = timedelta(days=2)
LOOK_AHEAD = timedelta(minutes=1)


def ask(api: PayPalApi, subscription_id: str, since: datetime, now: datetime) -> list[int]:
    """Ask PayPal about one subscription; returns the ids of the new notifications."""
    subscription = api.get_subscription(subscription_id)
    # The end is a little ahead: times are sent in whole seconds, and a payment made this
    # very second (the first charge, at approval) must be inside the window.
    transactions = api.transactions(subscription_id, since - LOOK_BACK, now + LOOK_AHEAD)
    return record_answers(subscription, transactions, now)


def record_answers(
    subscription: dict[str, Any], transactions: list[Any], now: datetime
) -> list[int]:
    sub_id = str(subscription.get("id", ""))[:64]
    documents = [
        (
            subscription_document(subscription, now),
            # The next billing time is part of the key: a trial's end is only learnt once
            # PayPal has run the trial cycle, without any change of status; so is the
            # plan: a revise changes it without any change of status either.
            f"subscription:{sub_id}:{subscription.get('status')}:"
            f"{subscription.get('status_update_time')}:{_next_billing(subscription)}"
            f"{':' + str(subscription['plan_id']) if subscription.get('plan_id') else ''}",
        )
    ]
    documents += [
        (
            transaction_document(subscription, t, now),
            f"transaction:{t.get('id')}:{t.get('status')}",
        )
        for t in transactions
        if isinstance(t, dict)
    ]
    stored = []
    for body, key in documents:
        if not _known(key[:128]):
            stored.append(intake.store(Channel.API, body, {}, None, now, event_id=key))
    return stored


def _next_billing(subscription: dict[str, Any]) -> str:
    info = subscription.get("billing_info")
    return str(info.get("next_billing_time", "")) if isinstance(info, dict) else ""


def _known(key: str) -> bool:
    return (
        db.session.scalar(
            select(Notification.id).where(
                Notification.channel == Channel.API, Notification.event_id == key
            )
        )
        is not None
    )
