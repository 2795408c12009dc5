"""One reconciliation: batches of PayPal's rows in; flags and backfilled payments out.

Memory stays flat whatever the size of the report: each batch is compared and recorded
(committed) before the next is read. What is kept across batches is small: the ids of
our own payments PayPal's report named (to find those it never named), refunds and
reversals (compared with their payments at the end), and the report's first and last
dates.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert, select

from models import Flag, Notification, db

from ..billing.formats.reconcile import (
    Difference,
    MoneyBack,
    compare_payments,
    period_text,
    unreported,
)
from ..billing.formats.reported import backfill_document, event_key
from ..billing.formats.reported_transaction import Reported, TxnKind
from ..billing.rules.statuses import Channel, NotificationStatus
from ..database import insert_new, lock_key
from . import ours

#: Flags raised by reconciliation (the admin's reconciliation page lists the open ones).
FLAG_KIND = "reconcile"


@dataclass
class Tally:
    rows: int = 0
    payments: int = 0
    money_back: int = 0
    differences: int = 0
    new_flags: int = 0
    backfilled: int = 0
    first: datetime | None = None
    last: datetime | None = None
    checked: str = ""
    by_kind: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.by_kind.items()))
        return (
            f"{self.rows} row(s) ({self.payments} payment(s), {self.money_back} refund(s)/"
            f"reversal(s)): {self.differences} difference(s){f' ({kinds})' if kinds else ''}, "
            f"{self.new_flags} new flag(s), {self.backfilled} payment(s) backfilled"
        )


class Session:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.tally = Tally()
        self._money_back = MoneyBack()
        #: Our payments PayPal's report named (bounded by our own payments in its dates).
        self._named = _Ids()
        #: Differences found so far (a payment's row and its refund's can find one twice).
        self._keys: set[str] = set()

    def feed(self, rows: Sequence[Reported]) -> None:
        """Compare one batch of PayPal's rows and record what differs (one commit)."""
        payments = [r for r in rows if r.kind is TxnKind.PAYMENT]
        mine = ours.by_txn([r.txn_id for r in payments])
        known = ours.subscriptions_named({r.subscription_ref for r in payments})
        self._named.extend(mine[r.txn_id].payment_id for r in payments if r.txn_id in mine)
        for r in rows:
            self._money_back.add(r)
            t = self.tally
            t.first = r.at if t.first is None else min(t.first, r.at)
            t.last = r.at if t.last is None else max(t.last, r.at)
        self.tally.rows += len(rows)
        self.tally.payments += len(payments)
        self.tally.money_back += sum(
            r.kind in (TxnKind.REFUND, TxnKind.REVERSAL, TxnKind.REVERSAL_CANCEL) for r in rows
        )
        self.record(compare_payments(payments, mine, known))

    def finish(self, period: tuple[datetime, datetime] | None) -> Tally:
        """Refunds and reversals against their payments; then, if the report covers
        `period` completely, our payments in it that the report never named."""
        parents = self._money_back.parents()
        self.record(self._money_back.differences(ours.by_txn(parents)))
        if period is not None and period[0] < period[1]:
            self.tally.checked = period_text(*period)
            for batch in ours.payments_between(*period):
                named = {p.txn_id for p in batch if p.payment_id in self._named}
                self.record(unreported(batch, named, self.tally.checked))
        return self.tally

    def record(self, found: Sequence[Difference]) -> None:
        """Flag each difference once (by its key) and store each backfill once (by the
        payment's id); one transaction."""
        if not found:
            return
        notes, new = _store_backfills(
            [d.backfill for d in found if d.backfill is not None], self.now
        )
        rows = {
            d.key[:200]: {
                "kind": FLAG_KIND,
                "message": d.message,
                "created_at": self.now,
                "notification_id": notes.get(d.txn_id) if d.backfill else None,
                "subscription_id": d.subscription_id,
                "key": d.key[:200],
            }
            for d in found
        }
        created = insert_new(Flag, list(rows.values()), unique=("key",), returning=("id",))
        db.session.commit()
        self.tally.new_flags += len(created)
        self.tally.backfilled += new
        for d in found:
            if d.key not in self._keys:
                self._keys.add(d.key)
                self.tally.differences += 1
                self.tally.by_kind[d.kind.value] = self.tally.by_kind.get(d.kind.value, 0) + 1


class _Ids:
    """Row ids, 8 bytes each (a set of 100,000 transaction ids held ~10 MB; this, 0.8 MB):
    appended while reading, sorted once before the first lookup."""

    def __init__(self) -> None:
        self._ids = array("q")
        self._sorted = True

    def extend(self, ids: Iterable[int]) -> None:
        self._ids.extend(ids)
        self._sorted = False

    def __contains__(self, id_: int) -> bool:
        if not self._sorted:
            self._ids = array("q", sorted(self._ids))
            self._sorted = True
        at = bisect_left(self._ids, id_)
        return at < len(self._ids) and self._ids[at] == id_


def _store_backfills(payments: Sequence[Reported], now: datetime) -> tuple[dict[str, int], int]:
    """Each payment as a `csv` message, once per payment however often it is found (the
    pipeline applies it: gateway/billing/formats/reported.py). Returns txn id -> message id, and
    how many were stored just now."""
    stored: dict[str, int] = {}
    if not payments:
        return stored, 0
    lock_key("reconcile:backfill")  # two imports at once still store each payment once
    wanted = {event_key(r.txn_id): r for r in payments}
    known = db.session.execute(
        select(Notification.event_id, Notification.id).where(
            Notification.channel == Channel.CSV, Notification.event_id.in_(list(wanted))
        )
    )
    for key, note_id in known:
        found = wanted.pop(str(key), None)  # None: a second copy (two imports raced once)
        if found is not None:
            stored[found.txn_id] = note_id
    if not wanted:
        return stored, 0
    table = cast(Table, Notification.__table__)
    rows = [
        {
            "channel": Channel.CSV.value,
            "body": backfill_document(r, now),
            "headers": {},
            "remote_addr": "",
            "received_at": now,
            "status": NotificationStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "event_id": key,
        }
        for key, r in wanted.items()
    ]
    result = db.session.execute(insert(table).returning(table.c.id, table.c.event_id), rows)
    for note_id, key in result:
        stored[wanted[str(key)].txn_id] = note_id
    return stored, len(wanted)
