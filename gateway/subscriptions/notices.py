"""Notices to members, queued from facts the moment they are first stored.

A fact is stored once (its unique key), and its notice is queued under a key derived
from it, so each notice goes out once whatever the order or repetition of PayPal's
messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select

from models import Subscription, db

from .. import mail
from ..billing.rules.facts import Fact, FactKind
from ..billing.rules.statuses import SubscriptionState

TEMPLATES = {
    FactKind.PAYMENT_COMPLETED: "payment_received",
    FactKind.REFUNDED: "refund_issued",
    FactKind.PAYMENT_FAILED: "renewal_failed",
}


def notify(
    sub: Subscription, facts: Iterable[Fact], new: set[tuple[str, str]], now: datetime
) -> int:
    """Queue the notices of the facts just stored for the first time; how many."""
    return mail.queue_rows(notices_for(sub, facts, new, now))


def notices_for(
    sub: Subscription, facts: Iterable[Fact], new: set[tuple[str, str]], now: datetime
) -> list[dict[str, Any]]:
    """The notices of the facts just stored for the first time, rendered with the
    subscription as it is now (to queue with `mail.queue_rows`)."""
    if sub.user is None:
        return []  # no member yet: nobody to tell (assigning one later sends nothing old)
    return [
        mail.render(
            f"notice:{sub.id}:{fact.kind.value}:{fact.key}",
            sub.user.email,
            TEMPLATES[fact.kind],
            now,
            sub=sub,
            fact=fact,
            account_url=f"{mail.site_url()}/account",
            **receipt_links(fact),
        )
        for fact in facts
        if fact.kind in TEMPLATES and (fact.kind.value, fact.key) in new
    ]


def receipt_links(fact: Fact) -> dict[str, str]:
    """A payment mail's absolute links to its receipt and the PDF, by PayPal's transaction
    (a batch writes its mails before its payments have ids)."""
    if fact.kind is not FactKind.PAYMENT_COMPLETED or not fact.txn_id:
        return {}
    return {
        "receipt_url": mail.link("member.receipt_by_txn", txn_id=fact.txn_id, as_pdf=False),
        "receipt_pdf_url": mail.link("member.receipt_by_txn", txn_id=fact.txn_id, as_pdf=True),
    }


def access_notices(now: datetime) -> str:
    """The job: tell members whose access is about to end (cancelled, ended or failing,
    NOTICE_DAYS before) or has just ended. Keyed by the end date: each once, and again
    only if the end moves (a renewal that came after all)."""
    days = int(current_app.config["NOTICE_DAYS"])
    ending = db.session.scalars(
        select(Subscription).where(
            Subscription.user_id.is_not(None),
            Subscription.access_until > now,
            Subscription.access_until <= now + timedelta(days=days),
            or_(
                Subscription.state.in_(
                    (
                        SubscriptionState.CANCELLED,
                        SubscriptionState.ENDED,
                        SubscriptionState.SUSPENDED,
                    )
                ),
                Subscription.grace_until.is_not(None),
            ),
        )
    ).all()
    ended = db.session.scalars(
        select(Subscription).where(
            Subscription.user_id.is_not(None),
            Subscription.access_until <= now,
            Subscription.access_until > now - timedelta(days=days),
            # A renewing subscription whose payment is merely late is not "ended" yet.
            or_(
                Subscription.state != SubscriptionState.ACTIVE,
                Subscription.grace_until.is_not(None),
            ),
        )
    ).all()
    queued = 0
    for template, subs in (("access_ending", ending), ("access_ended", ended)):
        for sub in subs:
            assert sub.user is not None and sub.access_until is not None
            queued += mail.queue(
                f"{template}:{sub.id}:{sub.access_until:%Y%m%d%H%M}",
                sub.user.email,
                template,
                now,
                sub=sub,
                account_url=f"{mail.site_url()}/account",
            )
    db.session.commit()
    return f"{queued} notice(s) queued"
