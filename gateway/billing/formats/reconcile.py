"""Reconciliation of payments, pure: PayPal's reported transactions against ours -> differences.

PayPal's side is a stream of `Reported` transactions (`reported_transaction.py`:
Transaction Search rows read by `reported.py`, Activity CSV rows read by `activity_csv.py`);
ours is `Recorded` payments. Subscriptions are compared in `reconcile_subscriptions.py`.
Each difference carries a stable `key`, so however often the same report is compared,
the same difference is one flag, and a message showing both sides.

The comparison works batch by batch (a 100,000-row file is never held at once):
`compare_payments` checks each of PayPal's payments against ours as it comes;
`MoneyBack` collects refunds and reversals until the end, when their original payments
are compared; `unreported` lists our payments in a fully reported period that PayPal's
report never mentioned.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from ..rules.statuses import PaymentStatus
from ..rules.timetext import utc_text
from .reported_transaction import Reported, Said, TxnKind

#: Our date of a payment and PayPal's may differ by moments (IPN dates are whole seconds):
#: our payments are only called unreported this far inside the reported period.
SKEW = timedelta(hours=1)


P = PaymentStatus
#: Our payment statuses that agree with what PayPal says. A report whose statuses are
#: only those at the time of payment (the Activity CSV) reports money back in rows of its
#: own, so "Completed" there agrees with any status of ours but Pending.
AGREES: dict[Said, frozenset[PaymentStatus]] = {
    Said.COMPLETED: frozenset({P.COMPLETED, P.PARTIALLY_REFUNDED}),
    Said.PENDING: frozenset({P.PENDING}),
    Said.DENIED: frozenset(),
    Said.REFUNDED: frozenset({P.REFUNDED}),
    Said.PARTIALLY_REFUNDED: frozenset({P.PARTIALLY_REFUNDED}),
    Said.REVERSED: frozenset({P.REVERSED}),
    Said.MONEY_BACK: frozenset({P.REFUNDED, P.REVERSED}),
}
AT_PAYMENT_TIME = AGREES[Said.COMPLETED] | {P.REFUNDED, P.REVERSED}


@dataclass(frozen=True)
class Recorded:
    """One payment of ours."""

    txn_id: str
    amount: Decimal
    currency: str
    status: PaymentStatus
    at: datetime
    subscription_ref: str = ""
    subscription_id: int | None = None
    #: Our row's id (keyset paging through our payments).
    payment_id: int = 0


class DiffKind(enum.StrEnum):
    MISSING = "missing"  # PayPal has it, we don't
    UNREPORTED = "unreported"  # we have it, PayPal's report doesn't
    AMOUNT = "amount"
    CURRENCY = "currency"
    STATUS = "status"
    SUBSCRIPTION = "subscription"  # PayPal ended or paused a subscription we think active


@dataclass(frozen=True)
class Difference:
    kind: DiffKind
    #: Stable: the same difference found again (by any report) has the same key.
    key: str
    message: str
    txn_id: str = ""
    subscription_id: int | None = None
    #: A payment PayPal has and we don't, to be stored and applied as PayPal's word.
    backfill: Reported | None = None


def when(at: datetime | None) -> str:
    return utc_text(at) if at else "no date"


def money(amount: Decimal, currency: str) -> str:
    return f"{amount:.2f} {currency or '(no currency)'}"


def describe_ours(p: Recorded | None) -> str:
    if p is None:
        return "ours: no such payment"
    sub = f", subscription {p.subscription_ref}" if p.subscription_ref else ""
    return f"ours: {p.txn_id} {money(p.amount, p.currency)} {p.status.value}, {when(p.at)}{sub}"


def describe_theirs(r: Reported | None, status: str = "") -> str:
    if r is None:
        return "PayPal's: not in its report"
    sub = f", subscription {r.subscription_ref}" if r.subscription_ref else ""
    word = status or r.status.value
    return (
        f"PayPal's: {r.txn_id} {money(abs(r.amount), r.currency)} {word}, {when(r.at)}{sub} "
        f"({r.source})"
    )


def _both(ours: Recorded | None, theirs: Reported | None, status: str = "") -> str:
    return f"{describe_ours(ours)}; {describe_theirs(theirs, status)}"


def compare_payments(
    reported: Iterable[Reported],
    ours: Mapping[str, Recorded],
    known_subscriptions: Mapping[str, int] | None = None,
) -> list[Difference]:
    """PayPal's payments in `reported` against ours (`ours` must hold every one of ours
    among them, by transaction id). Rows of other kinds are left to `MoneyBack`."""
    known = known_subscriptions or {}
    found: list[Difference] = []
    for r in reported:
        if r.kind is not TxnKind.PAYMENT:
            continue
        mine = ours.get(r.txn_id)
        if mine is None:
            if r.status is not Said.DENIED:  # a denied payment moved no money
                found.append(_missing(r, known))
            continue
        found += _payment_differences(mine, r)
    return found


def _missing(r: Reported, known: Mapping[str, int]) -> Difference:
    if r.status is not Said.COMPLETED:
        action = f"not backfilled: PayPal says it is {r.status.value.lower()}"
        backfill = None
    elif not r.subscription_ref:
        action = "not backfilled: it names no subscription; match it by hand"
        backfill = None
    else:
        whose = (
            "a subscription of ours"
            if r.subscription_ref in known
            else "a subscription we have never seen (the inbox creates it and flags it)"
        )
        action = f"backfilled: stored as PayPal's word for the inbox to apply to {whose}"
        backfill = r
    return Difference(
        DiffKind.MISSING,
        f"reconcile:missing:{r.txn_id}",
        f"PayPal has payment {r.txn_id} that we have no record of — {_both(None, r)}. "
        f"{action[0].upper()}{action[1:]}.",
        txn_id=r.txn_id,
        subscription_id=known.get(r.subscription_ref),
        backfill=backfill,
    )


def _payment_differences(mine: Recorded, r: Reported) -> list[Difference]:
    found = []
    sub = mine.subscription_id
    if abs(r.amount) != mine.amount:
        found.append(
            Difference(
                DiffKind.AMOUNT,
                f"reconcile:amount:{mine.txn_id}:{mine.amount}:{abs(r.amount)}",
                f"Payment {mine.txn_id} has another amount at PayPal — {_both(mine, r)}.",
                mine.txn_id,
                sub,
            )
        )
    if r.currency.upper() != mine.currency.upper():
        found.append(
            Difference(
                DiffKind.CURRENCY,
                f"reconcile:currency:{mine.txn_id}:{mine.currency}:{r.currency}",
                f"Payment {mine.txn_id} has another currency at PayPal — {_both(mine, r)}.",
                mine.txn_id,
                sub,
            )
        )
    agrees = AGREES[r.status] if r.current or r.status is not Said.COMPLETED else AT_PAYMENT_TIME
    if mine.status not in agrees:
        found.append(_status(mine, r.status.value, describe_theirs(r)))
    return found


def _status(mine: Recorded, said: str, theirs: str) -> Difference:
    return Difference(
        DiffKind.STATUS,
        # Keyed on our status only: the same disagreement seen by either report, or by
        # the payment's own row and its refund's row, is one flag.
        f"reconcile:status:{mine.txn_id}:{mine.status.value}",
        f"Payment {mine.txn_id} is {said.lower().replace('_', ' ')} at PayPal but "
        f"{mine.status.value.lower().replace('_', ' ')} here — {describe_ours(mine)}; {theirs}.",
        mine.txn_id,
        mine.subscription_id,
    )


@dataclass
class _Taken:
    refunded: Decimal = Decimal(0)
    #: (time, reversed?) of each reversal and cancelled reversal, to find the last word.
    reversals: list[tuple[datetime, bool]] = field(default_factory=list)
    last: Reported | None = None
    ids: list[str] = field(default_factory=list)


class MoneyBack:
    """Refunds, reversals and cancelled reversals collected over a whole report, keyed by
    the payment they concern; compared with our payments at the end (`differences`)."""

    def __init__(self) -> None:
        self._by_parent: dict[str, _Taken] = {}

    def add(self, r: Reported) -> None:
        if r.kind not in (TxnKind.REFUND, TxnKind.REVERSAL, TxnKind.REVERSAL_CANCEL):
            return
        if not r.parent_txn_id or r.status in (Said.DENIED, Said.PENDING):
            return
        taken = self._by_parent.setdefault(r.parent_txn_id, _Taken())
        if r.txn_id in taken.ids:  # the same row twice (overlapping windows or files)
            return
        taken.ids.append(r.txn_id)
        if r.kind is TxnKind.REFUND:
            taken.refunded += abs(r.amount)
        else:
            taken.reversals.append((r.at, r.kind is TxnKind.REVERSAL))
        if taken.last is None or r.at >= taken.last.at:
            taken.last = replace(r, raw={})  # kept to the end: without the row's text

    def parents(self) -> list[str]:
        return sorted(self._by_parent)

    def differences(self, ours: Mapping[str, Recorded]) -> list[Difference]:
        """Payments of ours whose status does not show the money PayPal took back.

        Only what the report proves is flagged: refunds before the report's first day may
        be missing from it, so a full refund here is never contradicted by a partial one
        there; a payment we do not have was flagged as missing already, or predates it.
        """
        found = []
        for parent, taken in sorted(self._by_parent.items()):
            mine = ours.get(parent)
            if mine is None or taken.last is None:
                continue
            reversed_now = max(taken.reversals)[1] if taken.reversals else False
            if reversed_now:
                said, fine = "Reversed", {P.REVERSED}
            elif taken.reversals and mine.status is P.REVERSED:
                said, fine = "Completed (reversal cancelled)", set()
            elif taken.refunded >= mine.amount:
                said, fine = "Refunded", {P.REFUNDED}
            elif taken.refunded:
                said, fine = "Partially_Refunded", {P.PARTIALLY_REFUNDED, P.REFUNDED}
            else:
                continue
            if mine.status in fine:
                continue
            found.append(_status(mine, said, _describe_taken(taken)))
        return found


def _describe_taken(taken: _Taken) -> str:
    """PayPal's side of a money-back difference: what its rows took back, and when."""
    assert taken.last is not None
    parts = []
    if taken.refunded:
        parts.append(f"refunds of {money(taken.refunded, taken.last.currency)}")
    if taken.reversals:
        undone = sum(1 for _, reversed_ in taken.reversals if not reversed_)
        parts.append(f"{len(taken.reversals) - undone} reversal(s), {undone} cancelled")
    return (
        f"PayPal's: {' and '.join(parts)} ({', '.join(taken.ids[:5])}), latest "
        f"{when(taken.last.at)} ({taken.last.source})"
    )


def unreported(ours: Iterable[Recorded], seen: Collection[str], period: str) -> list[Difference]:
    """Our payments (all inside the fully reported period) PayPal's report never named."""
    return [
        Difference(
            DiffKind.UNREPORTED,
            f"reconcile:unreported:{p.txn_id}",
            f"We have payment {p.txn_id} that PayPal does not report — {describe_ours(p)}; "
            f"PayPal's: not in its report of {period}.",
            p.txn_id,
            p.subscription_id,
        )
        for p in ours
        if p.txn_id not in seen
    ]


def compare(
    reported: Iterable[Reported],
    ours: Mapping[str, Recorded],
    ours_in_period: Iterable[Recorded],
    period: str,
    known_subscriptions: Mapping[str, int] | None = None,
) -> list[Difference]:
    """Everything at once, for a report small enough to hold (tests, one page)."""
    rows = list(reported)
    back = MoneyBack()
    for r in rows:
        back.add(r)
    seen = {r.txn_id for r in rows if r.kind is TxnKind.PAYMENT}
    return (
        compare_payments(rows, ours, known_subscriptions)
        + back.differences(ours)
        + unreported(ours_in_period, seen, period)
    )


def period_text(start: datetime, end: datetime) -> str:
    return f"{when(start)} to {when(end)}"
