"""What a stored message says: its channel's reading of the bytes, with what an admin
decided about it (a refund matched to one of our payments) laid over it."""

from __future__ import annotations

from dataclasses import replace

from models import Notification

from ..billing.rules.facts import FactKind
from ..billing.rules.interpretation import Interpretation
from ..channels.seam import Received, adapter_for

#: The facts that name the payment they undo (their txn_id is the parent's).
UNDOING = (FactKind.REFUNDED, FactKind.REVERSED, FactKind.REVERSAL_CANCELLED)


def received(note: Notification) -> Received:
    return Received(
        id=note.id,
        channel=note.channel,
        body=note.body,
        headers=note.headers or {},
        received_at=note.received_at,
    )


def read(note: Notification) -> Interpretation:
    """The message's interpretation, as the worker, replay and the admin all use it."""
    meaning = adapter_for(note.channel).interpret(received(note))
    return matched(meaning, note.matched_txn_id) if note.matched_txn_id else meaning


def matched(meaning: Interpretation, txn_id: str) -> Interpretation:
    """A refund or reversal read as undoing our payment `txn_id` (an admin's match),
    instead of the parent it names, which never arrived. Pure."""
    parent = meaning.parent_txn_id
    if not parent or parent == txn_id:
        return meaning
    facts = tuple(
        replace(f, txn_id=txn_id) if f.kind in UNDOING and f.txn_id == parent else f
        for f in meaning.facts
    )
    return replace(
        meaning,
        parent_txn_id=txn_id,
        facts=facts,
        summary=f"{meaning.summary} (matched by an admin to our payment {txn_id})",
    )
