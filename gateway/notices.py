"""Notices to members, queued from facts the moment they are first stored.

A fact is stored once (its unique key), and its notice is queued under a key derived
from it, so each notice goes out once whatever the order or repetition of PayPal's
messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask import current_app, has_request_context, request

from models import Subscription

from . import mail
from .billing.facts import Fact, FactKind

TEMPLATES = {
    FactKind.PAYMENT_COMPLETED: "payment_received",
    FactKind.REFUNDED: "refund_issued",
    FactKind.PAYMENT_FAILED: "renewal_failed",
}


def site_url() -> str:
    """The site's public address: outside a request (workers, jobs) only config knows it."""
    if has_request_context():
        return request.host_url.rstrip("/")
    return str(current_app.config["PUBLIC_URL"]).rstrip("/")


def notify(
    sub: Subscription, facts: Iterable[Fact], new: set[tuple[str, str]], now: datetime
) -> int:
    """Queue the notices of the facts just stored for the first time; how many."""
    if sub.user is None:
        return 0  # no member yet: nobody to tell (assigning one later sends nothing old)
    queued = 0
    for fact in facts:
        template = TEMPLATES.get(fact.kind)
        if template is None or (fact.kind.value, fact.key) not in new:
            continue
        queued += mail.queue(
            f"notice:{sub.id}:{fact.kind.value}:{fact.key}",
            sub.user.email,
            template,
            now,
            sub=sub,
            fact=fact,
            account_url=f"{site_url()}/account",
        )
    return queued
