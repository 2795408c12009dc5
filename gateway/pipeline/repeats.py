"""Repeated messages: the same sender id (a webhook event's `id`) seen before.

PayPal re-sends a webhook until we answer 2xx, with the same event id and body: the
repeat has no effect. A *different* body under an id we already hold is not PayPal
re-sending: it is kept and flagged, never silently dropped or applied over the first.
"""

from __future__ import annotations

from sqlalchemy import select

from models import Notification, db

from .apply import Flagged
from .channels import VERIFIED


def repeat_of(note: Notification) -> str | None:
    """The outcome for a repeat of an earlier message, or None if this one is the first.
    Raises Flagged for a different body under a known id."""
    if not note.event_id:
        return None
    first = db.session.execute(
        select(Notification.id, Notification.body)
        .where(
            Notification.channel == note.channel,
            Notification.event_id == note.event_id,
            Notification.id < note.id,
            # Only a message proven to be PayPal's counts as "the first": a forged body
            # carrying a real event id must not get the genuine event refused.
            Notification.verification == VERIFIED,
        )
        .order_by(Notification.id)
        .limit(1)
    ).first()
    if first is None:
        return None
    if bytes(first.body) == bytes(note.body):
        return f"repeat of message {first.id} (event {note.event_id}): no effect"
    raise Flagged(
        "repeat",
        f"event {note.event_id} was received before as message {first.id} with a different "
        "body; this one is kept, not applied: compare the two",
    )
