"""Repeated messages: the same sender id (a webhook event's `id`) seen before.

PayPal re-sends a webhook until we answer 2xx, with the same event id and body: the
repeat has no effect. A *different* body under an id we already hold is not PayPal
re-sending: it is kept and flagged, never silently dropped or applied over the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from models import Notification, db

from ..channels.seam import VERIFIED
from .apply import Flagged


def repeat_of(note: Notification) -> str | None:
    """The outcome for a repeat of an earlier message, or None if this one is the first.
    Raises Flagged for a different body under a known id."""
    return judge(note, firsts([note]).get(note.id))


def firsts(notes: Sequence[Notification]) -> dict[int, Any]:
    """For each message with a sender id, the first earlier message with that id (id and
    body), in one query for the lot; messages without an earlier copy are absent."""
    ids = {n.event_id for n in notes if n.event_id}
    if not ids:
        return {}
    earlier = db.session.execute(
        select(Notification.id, Notification.channel, Notification.event_id, Notification.body)
        .where(
            Notification.event_id.in_(ids),
            # Only a message proven to be PayPal's counts as "the first": a forged body
            # carrying a real event id must not get the genuine event refused.
            Notification.verification == VERIFIED,
            Notification.id < max(n.id for n in notes),
        )
        .order_by(Notification.id)
    ).all()
    oldest: dict[tuple[Any, str], Any] = {}
    for row in earlier:  # in id order: the first seen of each id is the oldest
        oldest.setdefault((row.channel, row.event_id), row)
    found = {}
    for note in notes:
        first = oldest.get((note.channel, note.event_id)) if note.event_id else None
        if first is not None and first.id < note.id:
            found[note.id] = first
    return found


def judge(note: Notification, first: Any | None) -> str | None:
    """The repeat's outcome (no effect), None for a first message; Flagged for another body."""
    if first is None:
        return None
    if bytes(first.body) == bytes(note.body):
        return f"repeat of message {first.id} (event {note.event_id}): no effect"
    raise Flagged(
        "repeat",
        f"event {note.event_id} was received before as message {first.id} with a different "
        "body; this one is kept, not applied: compare the two",
    )
