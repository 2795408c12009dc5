"""Apply a batch of verified messages together: one transaction, a few set-based statements.

One by one (`apply.apply`), a renewal costs about a dozen statements and a commit; here a
batch of a hundred costs about fifteen statements and one commit. The rules are the same
functions: each message is checked and applied in received order against its
subscription as the messages before it left it. The billing core is pure, so that runs in
memory; only the reads before it and the writes after it are set-based.

Only the common case comes here: a message about a subscription that has a row, or
whose row its first message opens without a flag (pipeline/openings.py: a launch's new
subscriptions), whose checks pass (signup terms and changes of terms included: they are
judged and recorded in memory, so the batch's later payments are checked against them).
Everything else (a first message that raises a flag, warnings, a refund whose payment
is neither stored nor earlier in the batch, a failed check, a repeat with another body)
is left to the one-by-one path together with every other message about the same
subscription, which then still apply in received order. Should a subscription opened
here need that path, the whole batch takes it (`Mismatch`): one by one, a first message
that fails opens nothing.

The subscriptions are locked in id order (two workers never deadlock over them) before
anything about them is read, and every fact and payment of a subscription is written
under its lock, so what was read is all there is. The inserts are checked against it: a
count that differs means it was not, and the caller abandons the transaction and applies
the messages one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select, update

from models import Notification, Payment, Subscription, SubscriptionFact, SubscriptionTerms, db

from .. import mail
from ..billing import Entitlement, Fact, compute
from ..billing.rules.interpretation import Interpretation
from ..billing.rules.statuses import PlanRefKind
from ..database import insert_new
from ..receipts import numbering as receipts
from ..subscriptions import notices, service
from .apply import (
    Applied,
    Flagged,
    amount_problem,
    judge_terms,
    outcome_text,
    run_checks,
    terms_source,
    wake_waiting,
)
from .openings import Mismatch, open_together
from .repeats import firsts, judge

__all__ = ["Mismatch", "Result", "apply_together"]


@dataclass
class Result:
    #: The messages applied here, with what happened, in received order per subscription.
    applied: list[tuple[Notification, Applied]] = field(default_factory=list)
    #: Messages for the one-by-one path (flags, deferrals, first messages, terms...).
    left: list[int] = field(default_factory=list)
    #: Subscriptions with payments to number: the caller issues their receipts last,
    #: right before its commit (`issue_receipts`).
    paid: set[int] = field(default_factory=set)


@dataclass
class _Sub:
    """One locked subscription while its messages are applied in memory."""

    row: Subscription
    facts: list[Fact]
    keys: set[tuple[str, str]]
    history: list[SubscriptionTerms]
    #: (id, txn_id, amount, status, period_start, period_end) as stored.
    payments: list[Any]
    messages: list[tuple[Notification, Interpretation]] = field(default_factory=list)
    fact_rows: list[dict[str, Any]] = field(default_factory=list)
    terms_rows: list[dict[str, Any]] = field(default_factory=list)
    new_payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    mails: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[tuple[Notification, Applied]] = field(default_factory=list)
    #: The entitlement after the last message.
    ent: Entitlement | None = None
    access_changed: bool = False


def apply_together(items: Sequence[tuple[Notification, Interpretation]], now: datetime) -> Result:
    """Apply what can be applied together; the rest is left in `Result.left`.

    The caller commits (or, on any exception, rolls back and applies every message one by
    one: nothing here is final before the commit).
    """
    result = Result()
    repeats = firsts([note for note, _ in items])
    waiting: list[tuple[Notification, Interpretation]] = []
    for note, meaning in items:
        try:
            outcome = judge(note, repeats.get(note.id))
            if outcome is None:
                run_checks(meaning)
        except Flagged:
            result.left.append(note.id)
            continue
        if outcome is None and not meaning.relevant:
            outcome = meaning.summary
        if outcome is not None:
            result.applied.append((note, Applied(outcome)))
        else:
            waiting.append((note, meaning))
    if not waiting:
        return result

    opened = open_together(waiting, now)  # new subscriptions: their rows, as one by one
    subs, unplaced = _lock(waiting)
    if opened - subs.keys():  # one of its messages needs the one-by-one path
        raise Mismatch("a new subscription's messages need the one-by-one path")
    result.left += [note.id for note, _ in unplaced]
    _load(subs)
    applied = []
    for sub in subs.values():
        if _apply_in_memory(sub, now):
            applied.append(sub)
            for note, _ in sub.messages:
                note.subscription_id, note.waiting_for = sub.row.id, None
            result.applied += sub.outcomes
        elif sub.row.id in opened:  # one by one, its first message would not open it
            raise Mismatch(f"subscription {sub.row.paypal_id} needs the one-by-one path")
        else:  # one of its messages needs the one-by-one path: all of them take it
            result.left += [note.id for note, _ in sub.messages]
            _forget(sub)
    result.paid = _write(applied, now)
    return result


def issue_receipts(result: Result, now: datetime) -> None:
    """Number the batch's paid payments: after every other write is flushed, so that the
    series' counter row, which every worker's payments queue for, is locked only for the
    numbering and the commit (gapless: a rollback takes the numbers with it)."""
    if result.paid:
        db.session.flush()
        receipts.issue(result.paid, now)


def _lock(
    items: list[tuple[Notification, Interpretation]],
) -> tuple[dict[int, _Sub], list[tuple[Notification, Interpretation]]]:
    """Lock the subscriptions the messages are about (in id order) and group the messages
    by them; returns the groups and the messages that cannot be placed here."""
    parents = {m.parent_txn_id for _, m in items if m.parent_txn_id}
    parent_sub: dict[str, int] = {}
    if parents:
        parent_sub = dict(
            db.session.execute(
                select(Payment.txn_id, Payment.subscription_id).where(
                    Payment.txn_id.in_(sorted(parents))
                )
            ).all()
        )
    refs = {m.subscription_ref for _, m in items if not m.parent_txn_id}
    rows = (
        db.session.scalars(
            select(Subscription)
            .where(
                or_(
                    Subscription.paypal_id.in_(sorted(refs - {""})),
                    Subscription.id.in_(sorted(set(parent_sub.values()))),
                )
            )
            .order_by(Subscription.id)
            .with_for_update(of=Subscription)
            .execution_options(populate_existing=True)
        )
        .unique()
        .all()
    )
    by_id = {row.id: row for row in rows}
    by_ref = {row.paypal_id: row for row in rows}

    # Payments this batch brings: one by one, a refund after its payment finds it.
    born: dict[str, tuple[int, str]] = {}
    for note, m in items:
        if m.payment is not None and not m.parent_txn_id:
            born.setdefault(m.payment.txn_id, (note.id, m.subscription_ref))

    def row_for(note: Notification, meaning: Interpretation) -> Subscription | None:
        """The row `apply._subscription_for` would find when this message's turn comes
        (the parent payment's, if that is stored by then; else the named one)."""
        parent = meaning.parent_txn_id
        if not parent:
            return by_ref.get(meaning.subscription_ref)
        if parent in parent_sub:
            return by_id.get(parent_sub[parent])
        payment_id, ref = born.get(parent, (note.id, ""))
        return by_ref.get(ref) if payment_id < note.id else None  # else it would wait

    subs: dict[int, _Sub] = {}
    unplaced, elsewhere = [], set()
    for note, meaning in items:
        row = row_for(note, meaning)
        # Warnings are flagged by the one-by-one path; no row: it creates one; another
        # plan named: it may follow a revise (subscriptions/plan_change.py).
        # A pass's purchases and their refunds: one by one (pipeline/purchases.py).
        if row is None or meaning.warnings or meaning.one_time or _names_another_plan(row, meaning):
            unplaced.append((note, meaning))
            if row is not None:
                elsewhere.add(row.id)
            continue
        sub = subs.get(row.id)
        if sub is None:
            sub = subs[row.id] = _Sub(row, [], set(), [], [])
        sub.messages.append((note, meaning))
    # A subscription with a message for the one-by-one path gives it all its messages.
    for sub_id in elsewhere & subs.keys():
        unplaced += subs.pop(sub_id).messages
    return subs, unplaced


def _names_another_plan(row: Subscription, meaning: Interpretation) -> bool:
    held = (row.plan.paypal_plan_id or "").lower() if row.plan is not None else ""
    return any(r.kind is PlanRefKind.REST_PLAN and r.key != held for r in meaning.plan_refs)


def _load(subs: dict[int, _Sub]) -> None:
    """Facts, terms and payments of every subscription: three queries for the batch."""
    ids = list(subs)
    if not ids:
        return
    for sub_id, facts in service.facts_of_many(ids).items():
        subs[sub_id].facts = facts
        subs[sub_id].keys = {(f.kind.value, f.key) for f in facts}
    for terms in db.session.scalars(
        select(SubscriptionTerms)
        .where(SubscriptionTerms.subscription_id.in_(ids))
        .order_by(SubscriptionTerms.effective_at, SubscriptionTerms.id)
    ):
        subs[terms.subscription_id].history.append(terms)
    p = Payment
    for pay in db.session.execute(
        select(
            p.subscription_id, p.id, p.txn_id, p.amount, p.status, p.period_start, p.period_end
        ).where(p.subscription_id.in_(ids))
    ):
        subs[pay.subscription_id].payments.append(pay)


def _apply_in_memory(sub: _Sub, now: datetime) -> bool:
    """Each message in received order, as `apply.apply` would; False if one of them must
    take the one-by-one path (a check fails)."""
    row, period = sub.row, service.billing_period(sub.row, sub.history)
    policy = service.policy()
    stored = {pay.txn_id for pay in sub.payments}
    for note, meaning in sorted(sub.messages, key=lambda item: item[0].id):
        try:
            facts = judge_terms(row, meaning, sub.history)
        except Flagged:
            return False
        if meaning.terms is not None and meaning.terms_event:
            _record_terms(sub, meaning, note, now)
        if amount_problem(row, meaning, sub.history):
            return False
        new: set[tuple[str, str]] = set()
        for fact in facts:
            key = (fact.kind.value, fact.key)
            if key not in sub.keys:
                sub.keys.add(key)
                new.add(key)
                sub.facts.append(fact)
                sub.fact_rows.append(
                    service.fact_row(
                        row.id, fact, source=note.channel.value, now=now, notification_id=note.id
                    )
                )
        info = meaning.payment
        if info is not None and info.txn_id not in stored and info.txn_id not in sub.new_payments:
            sub.new_payments[info.txn_id] = service.payment_row(row, info, now, meaning.payer_name)
        sub.ent = compute(sub.facts, period, policy)
        sub.access_changed |= service.write_dates(row, sub.ent, now)
        sub.mails += notices.notices_for(
            row,
            facts,
            new,
            now,
            ent=sub.ent,
            currency=meaning.money.currency if meaning.money else "",
            terms_rows=sub.history,
        )
        applied = Applied(outcome_text(meaning, row, bool(new), now), row.id, tuple(sorted(new)))
        sub.outcomes.append((note, applied))
    return True


def _record_terms(sub: _Sub, meaning: Interpretation, note: Notification, now: datetime) -> None:
    """Keep the message's terms in the subscription's history (as `agreed.record_terms`
    does), so that the batch's later messages are judged under them too."""
    assert meaning.terms is not None
    source, at = terms_source(meaning), meaning.terms_at or now
    if any(r.source is source and r.effective_at == at for r in sub.history):
        return  # recorded before (the unique key would refuse it)
    row = {
        "subscription_id": sub.row.id,
        "source": source,
        "effective_at": at,
        "terms": meaning.terms.to_json(),
        "notification_id": note.id,
        "recorded_at": now,
    }
    sub.terms_rows.append({**row, "source": source.value})
    sub.history.append(SubscriptionTerms(**row))  # in memory only: the insert is batched
    # Stable: a stored row stays before a new one of the same date, as their ids order them.
    sub.history.sort(key=lambda r: r.effective_at)


def _forget(sub: _Sub) -> None:
    """Drop what the in-memory run changed: the one-by-one path starts from the database."""
    db.session.expunge(sub.row)


def _write(subs: list[_Sub], now: datetime) -> set[int]:
    """The batch's writes: facts, new payments (with their periods), changed payments,
    refunds waiting for a payment, notices, members' access versions; returns the
    subscriptions whose payments need receipts (`issue_receipts`). The subscriptions' and
    messages' own rows are updated by the session's flush."""
    facts = [r for s in subs for r in s.fact_rows]
    stored = insert_new(
        SubscriptionFact, facts, unique=("subscription_id", "kind", "key"), returning=("id",)
    )
    if len(stored) != len(facts):
        raise Mismatch(f"{len(facts) - len(stored)} fact(s) were already stored")
    terms = [r for s in subs for r in s.terms_rows]
    recorded = insert_new(
        SubscriptionTerms,
        terms,
        unique=("subscription_id", "source", "effective_at"),
        returning=("id",),
    )
    if len(recorded) != len(terms):
        raise Mismatch(f"{len(terms) - len(recorded)} terms row(s) were already stored")
    new_payments, changed, paid = [], [], set()
    for sub in subs:
        assert sub.ent is not None  # every subscription here had a message applied
        bought = service.bought_periods(sub.ent)
        for values in sub.new_payments.values():
            values["period_start"], values["period_end"], values["status"] = service.payment_values(
                bought, sub.facts, values["txn_id"], values["amount"], values["status"]
            )
            new_payments.append({**values, "status": values["status"].value})
            paid.add(sub.row.id)
        for pay in sub.payments:
            now_values = service.payment_values(
                bought, sub.facts, pay.txn_id, pay.amount, pay.status
            )
            if now_values != (pay.period_start, pay.period_end, pay.status):
                start, end, status = now_values
                changed.append({"pid": pay.id, "s": start, "e": end, "st": status.value})
                paid.add(sub.row.id)
    inserted = insert_new(Payment, new_payments, unique=("txn_id",), returning=("txn_id",))
    if len(inserted) != len(new_payments):
        raise Mismatch(f"{len(new_payments) - len(inserted)} payment(s) were already stored")
    if changed:
        db.session.execute(
            update(Payment.__table__)  # type: ignore[arg-type]
            .where(Payment.__table__.c.id == bindparam("pid"))
            .values(period_start=bindparam("s"), period_end=bindparam("e"), status=bindparam("st")),
            changed,
        )
    wake_waiting([txn for (txn,) in inserted], now)
    mail.queue_rows([m for s in subs for m in s.mails])
    members = {s.row.user_id for s in subs if s.access_changed and s.row.user_id is not None}
    if members:
        service.bump_access_version(*sorted(members))
    return paid
