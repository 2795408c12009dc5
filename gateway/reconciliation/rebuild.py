"""Replay: run every applied message through the live apply path again and report where
the result differs from what is stored (docs/architecture.md, "Replay").

Replay uses each message's stored verification, never a new one, and the same paths as
live processing (`pipeline.together` for the common messages of a batch, `pipeline.apply`
for the rest), so there is no second copy of the mappings. Without
`apply=True` everything it did is rolled back.

It works subscription by subscription, so its memory does not grow with the number of
messages (1,000,000 stored messages replay in the same memory as a thousand):

1. `plan` (`rebuild_plan.py`): message ids grouped by the subscription each applies to.
2. `rebuild`: consecutive groups make a batch of about `batch_size` messages (a group is
   never split). Each batch is its own transaction: snapshot its subscriptions, apply its
   messages in received order, recompute and compare, then roll back (or commit with
   `apply=True`) and forget every row it loaded.

Messages about one subscription only ever touch that subscription, so a batch sees what
the one-transaction replay saw. A message that now applies to another subscription than
the one it was stored with is reported as a difference.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from models import Notification, Subscription, SubscriptionFact, db

from ..billing.rules.statuses import Channel
from ..pipeline.apply import Applied, Deferred, Flagged
from ..pipeline.apply import apply as apply_message
from ..pipeline.together import apply_together
from ..subscriptions.service import recompute
from .rebuild_plan import CHUNK, NO_ROW, Plan, meaning_of, plan

COMPARED = ("state", "paid_through", "grace_until", "access_until", "cancelled_at", "ended_at")
CHANNEL_SOURCES = {c.value for c in Channel}
#: Messages per transaction (a subscription's messages are never split across two).
BATCH_SIZE = 500
#: Difference lines kept in the report; all are counted.
KEEP = 1000


@dataclass
class Report:
    checked: int = 0
    #: The first `keep` difference lines, in the order found.
    differences: list[str] = field(default_factory=list)
    #: Every difference found (`differences` holds at most `keep` of them).
    found: int = 0
    replayed: int = 0
    batches: int = 0
    keep: int = KEEP

    def add(self, line: str) -> None:
        self.found += 1
        if len(self.differences) < self.keep:
            self.differences.append(line)

    def extend(self, other: Report) -> None:
        """Add another report's findings (a batch's) to this one."""
        self.checked += other.checked
        for line in other.differences:
            self.add(line)
        self.found += other.more

    @property
    def more(self) -> int:
        """Differences found but not kept."""
        return self.found - len(self.differences)


#: Called after each batch with the number of messages it replayed.
Progress = Callable[[int], None]


def rebuild(
    now: datetime,
    apply: bool = False,
    *,
    batch_size: int = BATCH_SIZE,
    keep: int = KEEP,
    planned: Plan | None = None,
    progress: Progress | None = None,
) -> Report:
    """Compare every subscription with a recomputation from raw messages and admin facts."""
    report = Report(keep=keep)
    known = set(db.session.identity_map.keys())
    planned = planned or plan()
    for batch in planned.batches(batch_size):
        try:  # no savepoint per message: the messages of a consistent database all apply
            found = Report(keep=keep)
            replayed = _batch(batch, now, found, planned.last_sub, isolate=False)
        except _Isolate:  # one would not: do the batch again, each message on its own
            db.session.rollback()
            found = Report(keep=keep)
            replayed = _batch(batch, now, found, planned.last_sub, isolate=True)
        if apply:
            db.session.commit()
        else:
            db.session.rollback()
        _forget(known)
        report.extend(found)
        report.replayed += replayed
        report.batches += 1
        if progress is not None:
            progress(replayed)
    return report


class _Isolate(Exception):
    """A message would not apply: replay its batch again with a savepoint per message."""


def _batch(
    batch: list[tuple[int, array[int]]],
    now: datetime,
    report: Report,
    last_sub: int,
    isolate: bool,
) -> int:
    """Replay one batch of subscriptions' messages and compare; returns messages replayed.

    With `isolate`, each message applies inside a savepoint, so one that would not apply
    leaves no trace (as in live processing, where it is its own transaction). Without,
    the first such message raises _Isolate; this saves two round trips a message.
    """
    sub_ids = [s for s, _ in batch if s != NO_ROW]
    before = {
        s.id: _snapshot(s)
        for s in _chunked(sub_ids, lambda ids: select(Subscription).where(Subscription.id.in_(ids)))
    }
    stored_with = {note_id: sub_id for sub_id, ids in batch for note_id in ids}
    produced: dict[int, set[tuple[str, str]]] = {}
    touched = set(sub_ids)
    notes = _chunked(
        sorted(stored_with),
        lambda ids: select(Notification).where(Notification.id.in_(ids)).order_by(Notification.id),
    )
    meanings = {note.id: (note, m) for note in notes if (m := meaning_of(note)).relevant}
    results: list[tuple[Notification, Applied]] = []
    one_by_one = list(meanings.values())
    if not isolate:  # the common messages together, as live processing applies them
        together = apply_together(one_by_one, now)
        results += together.applied
        left = set(together.left)
        one_by_one = [(note, m) for note, m in one_by_one if note.id in left]
    for note, meaning in one_by_one:
        try:
            if isolate:
                with db.session.begin_nested():
                    results.append((note, apply_message(note, meaning, now)))
            else:
                results.append((note, apply_message(note, meaning, now)))
        except (Flagged, Deferred) as e:
            if not isolate:
                raise _Isolate from e
            report.add(f"message {note.id} would not apply now: {e}")
    for note, result in sorted(results, key=lambda r: r[0].id):
        if result.subscription_id is None:
            continue
        expected, got = stored_with[note.id], result.subscription_id
        if got == expected or (expected == NO_ROW and got > last_sub):  # created here
            touched.add(got)
        else:
            stored = f"subscription {expected}" if expected != NO_ROW else "no subscription"
            report.add(
                f"message {note.id} was applied to {stored}, but now applies to subscription {got}"
            )
        produced.setdefault(result.subscription_id, set()).update(
            (f.kind.value, f.key) for f in meanings[note.id][1].facts
        )
        if result.new_facts:
            report.add(
                f"subscription {result.subscription_id}: {len(result.new_facts)} fact(s) from "
                f"message {note.id} were never stored"
            )
    # A subscription a message was applied to was recomputed then, from all its facts.
    fresh = {result.subscription_id for _, result in results}
    _compare(sorted(touched), before, produced, fresh, now, report)
    return len(stored_with)


def _compare(
    sub_ids: list[int],
    before: dict[int, dict[str, Any]],
    produced: dict[int, set[tuple[str, str]]],
    fresh: set[int | None],
    now: datetime,
    report: Report,
) -> None:
    channel_facts = _channel_facts(sub_ids)
    subs = _chunked(
        sub_ids,
        lambda ids: select(Subscription).where(Subscription.id.in_(ids)).order_by(Subscription.id),
    )
    for sub in subs:
        report.checked += 1
        label = f"subscription {sub.id} ({sub.paypal_id or 'manual'})"
        if sub.id not in fresh:
            recompute(sub, now)
        if sub.id not in before:
            report.add(f"{label}: messages name it, but it had no row")
            continue
        for name, was in before[sub.id].items():
            if getattr(sub, name) != was:
                report.add(
                    f"{label}: {name} is {_fmt(was)}, messages say {_fmt(getattr(sub, name))}"
                )
        for kind, key in sorted(channel_facts.get(sub.id, set()) - produced.get(sub.id, set())):
            report.add(f"{label}: stored fact {kind} {key} has no message behind it")


def _chunked(ids: Sequence[int], query: Callable[[Sequence[int]], Any]) -> Iterator[Any]:
    """Rows for `ids`, CHUNK ids a query (a long IN list is slow, and SQLite limits it)."""
    for i in range(0, len(ids), CHUNK):
        yield from db.session.scalars(query(ids[i : i + CHUNK])).all()


def _forget(known: set[Any]) -> None:
    """Drop the rows the batch loaded from the session, so memory stays flat."""
    for key in [k for k in db.session.identity_map.keys() if k not in known]:  # noqa: SIM118
        obj = db.session.identity_map.get(key)
        if obj is not None:
            db.session.expunge(obj)


def _snapshot(sub: Subscription) -> dict[str, Any]:
    return {name: getattr(sub, name) for name in COMPARED}


def _channel_facts(sub_ids: Sequence[int]) -> dict[int, set[tuple[str, str]]]:
    facts: dict[int, set[tuple[str, str]]] = {}
    for i in range(0, len(sub_ids), CHUNK):
        rows = db.session.execute(
            select(
                SubscriptionFact.subscription_id, SubscriptionFact.kind, SubscriptionFact.key
            ).where(
                SubscriptionFact.subscription_id.in_(sub_ids[i : i + CHUNK]),
                SubscriptionFact.source.in_(CHANNEL_SOURCES),
            )
        )
        for sub_id, kind, key in rows:
            facts.setdefault(sub_id, set()).add((kind, key))
    return facts


def _fmt(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else repr(value)


class Rate:
    """Messages/s and time left, for a progress display."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.began = total, 0, time.monotonic()

    def advance(self, n: int) -> None:
        self.done += n

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.began

    @property
    def per_second(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def left(self) -> float | None:
        rate = self.per_second
        return (self.total - self.done) / rate if rate > 0 else None
