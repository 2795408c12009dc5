"""Replay's plan: every applied message's id, grouped by the subscription it applies to.

One ordered read of (message id, subscription id) for every processed, verified message,
grouped by the subscription each was applied to, in received order; every subscription
gets a group, with or without messages. Only the ids are kept (8 bytes a message). A
processed message that names no subscription row (a webhook repeat, or one whose
subscription has no row any more) is interpreted here and joins the group of the
subscription `apply` will find for it: the one its parent payment belongs to, else the one
named by its PayPal id; a PayPal id with no row gets a group of its own (replay creates
the row, and reports it).
"""

from __future__ import annotations

import heapq
import itertools
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from models import Notification, Payment, Subscription, db

from ..billing.rules.interpretation import Interpretation
from ..billing.rules.statuses import NotificationStatus
from ..pipeline.reading import read
from ..pipeline.worker import VERIFIED

#: Rows read per round trip while planning and loading a batch.
CHUNK = 2000
#: The group of messages whose subscription has no row: replay creates it.
NO_ROW = 0


@dataclass
class Plan:
    """Replay order: message ids grouped by subscription, as compact arrays."""

    #: Subscription id of each group (NO_ROW: messages naming a subscription with no row).
    subs: array[int] = field(default_factory=lambda: array("q"))
    #: Where each group's messages start in `ids` (one extra entry: the end).
    starts: array[int] = field(default_factory=lambda: array("q", [0]))
    ids: array[int] = field(default_factory=lambda: array("q"))
    #: The highest subscription id when planned: a higher one was created by the replay.
    last_sub: int = 0

    @property
    def messages(self) -> int:
        return len(self.ids)

    @property
    def subscriptions(self) -> int:
        return sum(1 for s in self.subs if s != NO_ROW)

    def add(self, sub_id: int, ids: Sequence[int]) -> None:
        self.subs.append(sub_id)
        self.ids.extend(sorted(ids))
        self.starts.append(len(self.ids))

    def batches(self, size: int) -> Iterator[list[tuple[int, array[int]]]]:
        """Consecutive groups, about `size` messages (or subscriptions) a batch."""
        batch: list[tuple[int, array[int]]] = []
        weight = 0
        for g, sub_id in enumerate(self.subs):
            ids = self.ids[self.starts[g] : self.starts[g + 1]]
            batch.append((sub_id, ids))
            weight += max(len(ids), 1)
            if weight >= size:
                yield batch
                batch, weight = [], 0
        if batch:
            yield batch


def _applied() -> Any:
    return (
        Notification.status == NotificationStatus.PROCESSED,
        Notification.verification == VERIFIED,
    )


def plan() -> Plan:
    """Group every processed, verified message by the subscription it is about."""
    strays = _strays()
    out = Plan()
    sub_ids = db.session.scalars(
        select(Subscription.id).order_by(Subscription.id).execution_options(yield_per=CHUNK)
    )
    messages = db.session.execute(
        select(Notification.subscription_id, Notification.id)
        .where(*_applied(), Notification.subscription_id.is_not(None))
        .order_by(Notification.subscription_id, Notification.id)
        .execution_options(yield_per=CHUNK)
    )
    for sub_id, ids in _merged(sub_ids, messages, strays):
        out.add(sub_id, ids)
        out.last_sub = max(out.last_sub, sub_id)
    messages.close()
    db.session.rollback()  # end the read; nothing was written
    for ids in strays.values():  # keyed by a PayPal id with no row (NO_ROW groups)
        out.add(NO_ROW, ids)
    return out


def _merged(
    sub_ids: Iterable[int], messages: Iterable[Any], strays: dict[Any, list[int]]
) -> Iterator[tuple[int, list[int]]]:
    """(subscription id, its message ids) for every subscription in id order: from the
    subscriptions, the messages stored with one (ordered by it) and the stray messages
    (keyed by it). Each source is sorted, so this is a merge of three ordered streams."""
    extra = sorted(k for k in strays if isinstance(k, int))
    streams = heapq.merge(
        ((s, ()) for s in sub_ids),
        ((s, (m,)) for s, m in messages),
        ((s, ()) for s in extra),
        key=lambda pair: pair[0],
    )
    for sub_id, pairs in itertools.groupby(streams, key=lambda pair: pair[0]):
        ids = strays.pop(sub_id, [])
        ids.extend(m for _, found in pairs for m in found)
        yield sub_id, ids


def _strays() -> dict[Any, list[int]]:
    """Applied messages stored without a subscription: keyed by the subscription id apply
    will find for each, or by the PayPal id (or parent payment) naming one with no row.
    Messages with no effect (not relevant) are left out, as replay would skip them."""
    found: dict[Any, list[int]] = {}
    unborn_payments: dict[str, Any] = {}  # payment txn -> key, for payments with no row yet
    notes = db.session.scalars(
        select(Notification)
        .where(*_applied(), Notification.subscription_id.is_(None))
        .order_by(Notification.id)
        .execution_options(yield_per=CHUNK)
    )
    for note in notes:
        meaning = meaning_of(note)
        if not meaning.relevant:
            continue
        key = _target(meaning, unborn_payments)
        if not isinstance(key, int) and meaning.payment is not None:
            unborn_payments.setdefault(meaning.payment.txn_id, key)
        found.setdefault(key, []).append(note.id)
    return found


def _target(meaning: Interpretation, unborn_payments: dict[str, Any]) -> Any:
    """What apply will find: the parent payment's subscription, else the named one."""
    if meaning.parent_txn_id:
        sub_id = db.session.scalar(
            select(Payment.subscription_id).where(Payment.txn_id == meaning.parent_txn_id)
        )
        if sub_id is not None:
            return sub_id
        return unborn_payments.get(meaning.parent_txn_id, ("payment", meaning.parent_txn_id))
    ref = meaning.subscription_ref
    sub_id = db.session.scalar(select(Subscription.id).where(Subscription.paypal_id == ref))
    return sub_id if sub_id is not None else ("paypal_id", ref)


def meaning_of(note: Notification) -> Interpretation:
    """What a stored message says, read by its channel's interpret (nothing re-verified)."""
    return read(note)
