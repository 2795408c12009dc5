"""Facts + plan terms + policy -> paid-through, grace and access_until (docs/architecture.md)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from .facts import Fact, FactKind
from .periods import PeriodUnit, add_period
from .statuses import SubscriptionState as State
from .timetext import LIFETIME_END, utc_text


class CancelPolicy(enum.StrEnum):
    END_OF_PERIOD = "end_of_period"
    IMMEDIATE = "immediate"


@dataclass(frozen=True)
class Policy:
    """Site policy; defaults are the safe ones of docs/architecture.md."""

    grace_days: int = 3
    cancel: CancelPolicy = CancelPolicy.END_OF_PERIOD


@dataclass(frozen=True)
class TrialPeriod:
    """One trial period before the regular ones (PayPal's p1/t1 or p2/t2)."""

    count: int
    unit: PeriodUnit
    paid: bool = False


@dataclass(frozen=True)
class Terms:
    """What each payment buys: the regular period, after up to two trial periods, for a
    fixed number of regular payments or (cycles None) until cancelled. For a pass
    (rules/passes.py) the period is its term, bought once per payment."""

    period_count: int
    period_unit: PeriodUnit
    trials: tuple[TrialPeriod, ...] = ()
    cycles: int | None = None
    #: A pass: paid once, never renews; a purchase extends from the later of its own time
    #: and the end of what was already bought.
    one_time: bool = False
    #: A lifetime pass: one counted payment opens access without end.
    lifetime: bool = False

    def after(self, start: datetime, periods: int = 1) -> datetime:
        return add_period(start, self.period_count * periods, self.period_unit)

    def paid_stretches(self) -> list[list[TrialPeriod]]:
        """The trial stretches that payments buy, in order. Leading free trials are not
        paid for (the signup's trial fact covers them); a free trial after a paid one is
        part of that payment's stretch."""
        stretches: list[list[TrialPeriod]] = []
        for t in self.trials:
            if t.paid:
                stretches.append([t])
            elif stretches:
                stretches[-1].append(t)
        return stretches

    def advance(self, anchor: datetime, first: int, payments: int) -> datetime:
        """Where `payments` payments reach from `anchor`, the first being payment number
        `first` (0-based) of the subscription: trial stretches one by one, then regular
        periods in one step from the trials' end (so month ends do not drift)."""
        if not self.trials:
            return self.after(anchor, payments)
        stretches, at, index = self.paid_stretches(), anchor, first
        while payments > 0 and index < len(stretches):
            for piece in stretches[index]:
                at = add_period(at, piece.count, piece.unit)
            index, payments = index + 1, payments - 1
        return self.after(at, payments) if payments else at

    def regular_payments(self, payments: int) -> int:
        """How many of the first `payments` payments were regular (not trial) ones."""
        return max(payments - len(self.paid_stretches()), 0)


@dataclass(frozen=True)
class Period:
    """The stretch of time one counted payment bought."""

    txn_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Entitlement:
    """Everything derived from a subscription's facts. Independent of `now`."""

    state: State
    started_at: datetime | None = None
    trial_until: datetime | None = None
    paid_through: datetime | None = None
    grace_until: datetime | None = None
    access_until: datetime | None = None
    cancelled_at: datetime | None = None
    ended_at: datetime | None = None
    revoked_at: datetime | None = None
    money_back_at: datetime | None = None
    periods: tuple[Period, ...] = field(default_factory=tuple)
    #: The terms' number of regular payments once the last of them is made (the
    #: subscription then ends at its paid-through date); None otherwise.
    last_of: int | None = None

    def has_access(self, now: datetime) -> bool:
        return self.access_until is not None and now < self.access_until


def refund_identity(key: str) -> str:
    """One refund reported by several channels (IPN `<refund txn>:Refunded:<txn_type>`,
    webhook and our own request `<refund txn>:Refunded`) is one refund: its identity is
    the refund's own transaction id. Any other key is its own identity."""
    parts = key.split(":")
    return parts[0] if len(parts) >= 2 and parts[1] == "Refunded" else key


def _counted_payments(facts: list[Fact]) -> list[Fact]:
    """Completed payments whose money PayPal still holds (refunds and reversals remove them)."""
    completed: dict[str, Fact] = {}
    refunded: dict[str, Decimal] = {}
    fully_refunded: set[str] = set()
    reversed_, reversal_cancelled = set(), set()
    counted_refunds: set[tuple[str, str]] = set()
    for f in facts:
        if f.kind is FactKind.PAYMENT_COMPLETED and f.txn_id:
            # One txn_id buys one period, however many times it is reported.
            if f.txn_id not in completed or f.sort_key() < completed[f.txn_id].sort_key():
                completed[f.txn_id] = f
        elif f.kind is FactKind.REFUNDED and f.txn_id:
            refund = (f.txn_id, refund_identity(f.key))
            if f.amount is None:
                fully_refunded.add(f.txn_id)
            elif refund not in counted_refunds:
                counted_refunds.add(refund)
                refunded[f.txn_id] = refunded.get(f.txn_id, Decimal(0)) + abs(f.amount)
        elif f.kind is FactKind.REVERSED and f.txn_id:
            reversed_.add(f.txn_id)
        elif f.kind is FactKind.REVERSAL_CANCELLED and f.txn_id:
            reversal_cancelled.add(f.txn_id)

    def counts(txn: str, pay: Fact) -> bool:
        if txn in fully_refunded:
            return False
        # A partial refund keeps the period; only refunds adding up to the payment remove it.
        if pay.amount is not None and refunded.get(txn, Decimal(0)) >= pay.amount > 0:
            return False
        return txn not in reversed_ or txn in reversal_cancelled

    return sorted((p for t, p in completed.items() if counts(t, p)), key=Fact.sort_key)


def _chain(
    payments: list[Fact], terms: Terms, trial_until: datetime | None
) -> tuple[datetime | None, list[Period]]:
    """Lay counted payments end to end on PayPal's billing cycle.

    A payment arriving before, or within one period after, the current paid-through
    continues the cycle from its anchor (early renewals and late retries keep PayPal's
    dates); a payment after a longer gap starts a new cycle at its own time. The k-th
    payment buys the k-th stretch of the terms: a paid trial's, then regular periods.
    """
    paid_through = trial_until
    anchor, first, n = trial_until, 0, 0
    periods: list[Period] = []
    for k, p in enumerate(payments):
        if anchor is not None and paid_through is not None and p.at <= terms.after(paid_through):
            n += 1
        else:
            anchor, first, n = p.at, k, 1
        paid_through = terms.advance(anchor, first, n)
        periods.append(Period(p.txn_id or "", terms.advance(anchor, first, n - 1), paid_through))
    return paid_through, periods


def pass_chain(payments: list[Fact], terms: Terms) -> tuple[datetime | None, list[Period]]:
    """Passes: each counted purchase adds its term from the later of its own time and the
    end of the purchases before it (buying again early extends; after a lapse it starts
    anew). A lifetime pass bought once is paid through `LIFETIME_END`."""
    paid_through: datetime | None = None
    periods: list[Period] = []
    for p in payments:
        start = max(p.at, paid_through) if paid_through is not None else p.at
        paid_through = LIFETIME_END if terms.lifetime else terms.after(start)
        periods.append(Period(p.txn_id or "", min(start, paid_through), paid_through))
    return paid_through, periods


def compute(facts: Iterable[Fact], terms: Terms, policy: Policy = Policy()) -> Entitlement:
    """Derive a subscription's entitlement from the set of its facts (order and repeats ignored)."""
    ordered = sorted(set(facts), key=Fact.sort_key)
    if not ordered:
        return Entitlement(state=State.PENDING)

    def first(kind: FactKind) -> Fact | None:
        return next((f for f in ordered if f.kind is kind), None)

    started = first(FactKind.STARTED)
    trial_until = max(
        (f.until for f in ordered if f.kind is FactKind.TRIAL and f.until), default=None
    )
    payments = _counted_payments(ordered)
    if terms.one_time:
        paid_through, periods = pass_chain(payments, terms)
    else:
        paid_through, periods = _chain(payments, terms, trial_until)

    cancelled, ended = first(FactKind.CANCELLED), first(FactKind.ENDED)
    # The last of a fixed number of payments: the term ends with its period, whether or
    # not PayPal's end-of-term message ever comes.
    last_of = (
        terms.cycles
        if terms.cycles and terms.regular_payments(len(payments)) >= terms.cycles
        else None
    )
    if last_of and ended is None:
        ended = Fact(FactKind.ENDED, payments[-1].at, key="last payment")
    suspended = False
    for f in ordered:  # time order decides pause vs resume
        if f.kind is FactKind.SUSPENDED:
            suspended = True
        elif f.kind is FactKind.REACTIVATED:
            suspended = False

    last_paid = max((p.at for p in payments), default=None)
    unresolved_failure = any(
        f.kind is FactKind.PAYMENT_FAILED and (last_paid is None or f.at > last_paid)
        for f in ordered
    )
    grace_until = None
    if (
        unresolved_failure
        and paid_through is not None
        and not cancelled
        and not ended
        and not suspended
        and policy.grace_days > 0
        and not terms.one_time  # nothing renews, so nothing is retried
    ):
        grace_until = paid_through + timedelta(days=policy.grace_days)

    access_until = grace_until or paid_through
    if cancelled and policy.cancel is CancelPolicy.IMMEDIATE and access_until:
        access_until = min(access_until, cancelled.at)

    granted_until, revoked_at = None, None
    for f in ordered:  # admin actions apply in time order: a later grant lifts a revoke
        if f.kind is FactKind.GRANTED and f.until:
            granted_until = max(granted_until or f.until, f.until)
            revoked_at = None
        elif f.kind is FactKind.REVOKED:
            revoked_at, granted_until = f.at, None
    if granted_until and (access_until is None or granted_until > access_until):
        access_until = granted_until
    if revoked_at is not None:
        access_until = min(access_until, revoked_at) if access_until else revoked_at

    if revoked_at is not None:
        state = State.REVOKED
    elif ended:
        state = State.ENDED
    elif cancelled:
        state = State.CANCELLED
    elif suspended:
        state = State.SUSPENDED
    elif granted_until or trial_until or payments:
        state = State.ACTIVE
    elif any(f.kind is FactKind.PAYMENT_COMPLETED for f in ordered):
        # Paid once, but PayPal took every payment back: not "active", and saying how.
        refunded = any(f.kind is FactKind.REFUNDED for f in ordered)
        state = State.REFUNDED if refunded else State.CHARGED_BACK
    else:
        state = State.PENDING
    money_back_at = max(
        (f.at for f in ordered if f.kind in (FactKind.REFUNDED, FactKind.REVERSED)), default=None
    )

    started_at = min(
        (
            f.at
            for f in ordered
            if f.kind
            in (FactKind.STARTED, FactKind.TRIAL, FactKind.PAYMENT_COMPLETED, FactKind.GRANTED)
        ),
        default=started.at if started else None,
    )
    return Entitlement(
        state=state,
        started_at=started_at,
        trial_until=trial_until,
        paid_through=paid_through,
        grace_until=grace_until,
        access_until=access_until,
        cancelled_at=cancelled.at if cancelled else None,
        # PayPal's end-of-term message carries no date of its own; the end of what was paid
        # for is the same whichever copy of it arrived first.
        ended_at=(paid_through or trial_until or ended.at) if ended else None,
        revoked_at=revoked_at,
        money_back_at=money_back_at,
        periods=tuple(periods),
        last_of=last_of,
    )


def status_at(ent: Entitlement, now: datetime) -> str:
    """The word a member or admin sees: trial, active, past_due, cancelled, ... or expired."""
    if not ent.has_access(now):
        if ent.state in (State.PENDING, State.REVOKED, State.REFUNDED, State.CHARGED_BACK):
            return ent.state.value
        return "expired"
    if is_past_due(ent, now):
        return "past_due"
    if (
        ent.state is State.ACTIVE
        and ent.trial_until
        and now < ent.trial_until
        and not any(p.start < now for p in ent.periods)
    ):
        return "trial"
    return ent.state.value


def is_past_due(ent: Entitlement, now: datetime) -> bool:
    """A renewal failed and PayPal still retries: from the failure itself, which may come
    before the paid-through date, until the grace ends (never once the access has ended)."""
    return bool(
        ent.state is State.ACTIVE
        and ent.grace_until
        and ent.paid_through
        and ent.has_access(now)
        and now < ent.grace_until
    )


def explain(ent: Entitlement, policy: Policy = Policy()) -> list[str]:
    """Plain sentences saying why access lasts until when (for the admin timeline)."""
    lines = []
    if ent.trial_until:
        lines.append(f"Free trial until {utc_text(ent.trial_until)}.")
    for p in ent.periods:
        lines.append(f"Payment {p.txn_id} paid {utc_text(p.start)} → {utc_text(p.end)}.")
    if ent.paid_through:
        lines.append(f"Paid through {utc_text(ent.paid_through)}.")
    elif not ent.periods and ent.state is not State.PENDING:
        lines.append("No payment currently counts (none yet, or all refunded or reversed).")
    if ent.grace_until:
        lines.append(
            f"A renewal failed: {policy.grace_days} days of grace, "
            f"until {utc_text(ent.grace_until)}."
        )
    if ent.cancelled_at:
        lines.append(
            f"Cancelled {utc_text(ent.cancelled_at)}: no renewals; access is kept to the "
            "paid-through date."
            if policy.cancel is CancelPolicy.END_OF_PERIOD
            else f"Cancelled {utc_text(ent.cancelled_at)}: access ended then (policy)."
        )
    if ent.last_of and ent.paid_through:
        lines.append(
            f"The last of {ent.last_of} payments is made: the term ends "
            f"{utc_text(ent.paid_through)}, without waiting for PayPal's end-of-term message."
        )
    elif ent.ended_at:
        lines.append(f"Term ended {utc_text(ent.ended_at)}: no renewals, no grace.")
    if ent.revoked_at:
        lines.append(f"Revoked by an admin {utc_text(ent.revoked_at)}.")
    if ent.access_until and (
        ent.paid_through is None or ent.access_until > (ent.grace_until or ent.paid_through)
    ):
        lines.append(f"An admin granted access until {utc_text(ent.access_until)}.")
    lines.append(
        f"Access until {utc_text(ent.access_until)}." if ent.access_until else "No access."
    )
    return lines
