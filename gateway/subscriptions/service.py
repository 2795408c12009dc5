"""Store facts and recompute: the billing core decides, this module loads and writes.

Every channel and every admin action changes a subscription only through `record_facts`
followed by `recompute`, with the subscription's row locked (`lock`), so concurrent
messages about one subscription apply one after the other.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, overload

from flask import current_app
from sqlalchemy import ColumnElement, select, update

from models import Payment, Subscription, SubscriptionFact, SubscriptionTerms, User, db

from ..billing import Entitlement, Fact, FactKind, Policy, Terms, compute
from ..billing.rules.entitlements import CancelPolicy, Period
from ..billing.rules.interpretation import PaymentInfo
from ..billing.rules.payments import payment_status
from ..billing.rules.periods import PeriodUnit
from ..billing.rules.statuses import PaymentStatus
from ..database import insert_new, members_changed
from . import recorded_terms as agreed


def policy() -> Policy:
    """The site's access policy from config."""
    cfg = current_app.config
    return Policy(grace_days=int(cfg["GRACE_DAYS"]), cancel=CancelPolicy(cfg["CANCEL_POLICY"]))


#: Only while neither a plan nor any terms are known: such a subscription grants no role,
#: so this never decides access; it keeps the dates shown to the admin meaningful.
UNKNOWN_PERIOD = Terms(1, PeriodUnit.MONTH)


def billing_period(sub: Subscription, rows: list[SubscriptionTerms] | None = None) -> Terms:
    """The period one payment buys: from the subscription's own terms, not its plan's."""
    terms = agreed.in_force(sub, rows=rows)
    return terms.billing_period if terms is not None else UNKNOWN_PERIOD


def facts_of(sub: Subscription) -> list[Fact]:
    return facts_of_many([sub.id]).get(sub.id, [])


def facts_of_many(sub_ids: Collection[int]) -> dict[int, list[Fact]]:
    """The facts of several subscriptions in one query (plain rows, no ORM instances)."""
    found: dict[int, list[Fact]] = {sub_id: [] for sub_id in sub_ids}
    if not sub_ids:
        return found
    t = SubscriptionFact
    rows = db.session.execute(
        select(t.subscription_id, t.kind, t.at, t.key, t.txn_id, t.amount, t.until).where(
            t.subscription_id.in_(sub_ids)
        )
    )
    for sub_id, kind, at, key, txn_id, amount, until in rows:
        found[sub_id].append(Fact(FactKind(kind), at, key, txn_id, amount, until))
    return found


def record_facts(
    sub: Subscription,
    facts: Iterable[Fact],
    *,
    source: str,
    now: datetime,
    actor: User | None = None,
    note: str | None = None,
    notification_id: int | None = None,
) -> set[tuple[str, str]]:
    """Insert facts in one statement; returns the (kind, key) of those not already known.

    A re-delivered fact has the same (subscription, kind, key) and is not inserted again.
    """
    rows = [
        fact_row(
            sub.id,
            fact,
            source=source,
            now=now,
            actor_id=actor.id if actor else None,
            note=note,
            notification_id=notification_id,
        )
        for fact in facts
    ]
    new = insert_new(
        SubscriptionFact,
        rows,
        unique=("subscription_id", "kind", "key"),
        returning=("kind", "key"),
    )
    return {(kind, key) for kind, key in new}


def fact_row(
    sub_id: int,
    fact: Fact,
    *,
    source: str,
    now: datetime,
    actor_id: int | None = None,
    note: str | None = None,
    notification_id: int | None = None,
) -> dict[str, Any]:
    """One `subscription_facts` row (for `record_facts`, and a batch applied together)."""
    return {
        "subscription_id": sub_id,
        "kind": fact.kind.value,
        "key": fact.key,
        "at": fact.at,
        "txn_id": fact.txn_id,
        "amount": fact.amount,
        "until": fact.until,
        "source": source,
        "actor_id": actor_id,
        "note": note,
        "notification_id": notification_id,
        "recorded_at": now,
    }


def payment_row(
    sub: Subscription, info: PaymentInfo, now: datetime, payer_name: str = ""
) -> dict[str, Any]:
    """One new `payments` row for a PayPal transaction. Both apply paths (one message at a
    time, a batch together) build it here so they store the same; the period it bought and
    its final status come later from the facts (`payment_values`)."""
    return {
        "subscription_id": sub.id,
        "txn_id": info.txn_id,
        "status": PaymentStatus(info.status),
        "amount": abs(info.amount),
        "currency": info.currency or (sub.plan.currency if sub.plan else ""),
        "fee": abs(info.fee) if info.fee is not None else None,
        "tax": abs(info.tax) if info.tax is not None else None,
        "payer_name": payer_name or None,
        "paid_at": info.at,
        "period_start": None,
        "period_end": None,
        "created_at": now,
    }


def record_fact(
    sub: Subscription,
    fact: Fact,
    *,
    source: str,
    now: datetime,
    actor: User | None = None,
    note: str | None = None,
) -> bool:
    """Insert one fact; False when the same (kind, key) is already known (a re-delivery)."""
    return bool(record_facts(sub, [fact], source=source, now=now, actor=actor, note=note))


@overload
def lock(where: ColumnElement[bool], *, missing_ok: Literal[False] = False) -> Subscription: ...
@overload
def lock(where: ColumnElement[bool], *, missing_ok: Literal[True]) -> Subscription | None: ...
def lock(where: ColumnElement[bool], *, missing_ok: bool = False) -> Subscription | None:
    """The subscription matching `where`, its row locked until the transaction ends.

    Read afresh (never from the session's cache), so facts and dates are read after any
    other writer's commit. PostgreSQL locks the row; SQLite has a single writer anyway.
    """
    stmt = (
        select(Subscription)
        .where(where)
        .with_for_update(of=Subscription)
        .execution_options(populate_existing=True)
    )
    sub = db.session.scalars(stmt).unique().one_or_none()
    if sub is None and not missing_ok:
        raise LookupError("no such subscription")
    return sub


def recompute(
    sub: Subscription, now: datetime, terms_rows: list[SubscriptionTerms] | None = None
) -> Entitlement:
    """Rewrite the subscription's cached dates from its facts; bump the member's access version.

    `terms_rows`: the subscription's terms history, when the caller has just loaded it.
    """
    facts = facts_of(sub)
    ent = compute(facts, billing_period(sub, terms_rows), policy())
    changed = write_dates(sub, ent, now)
    bought = bought_periods(ent)
    for pay in db.session.scalars(select(Payment).where(Payment.subscription_id == sub.id)):
        pay.period_start, pay.period_end, pay.status = payment_values(
            bought, facts, pay.txn_id, pay.amount, pay.status
        )
    if changed and sub.user_id is not None:
        bump_access_version(sub.user_id)
    return ent


def write_dates(sub: Subscription, ent: Entitlement, now: datetime) -> bool:
    """Copy an entitlement onto the row; True if the member's access changed (its end or
    the state), so their sessions must recompute their roles."""
    before = (sub.access_until, sub.state)
    sub.state = ent.state
    sub.started_at = ent.started_at
    sub.trial_until = ent.trial_until
    sub.paid_through = ent.paid_through
    sub.grace_until = ent.grace_until
    sub.access_until = ent.access_until
    sub.cancelled_at = ent.cancelled_at
    sub.ended_at = ent.ended_at
    sub.updated_at = now
    return before != (sub.access_until, sub.state)


def bought_periods(ent: Entitlement) -> dict[str, Period]:
    return {p.txn_id: p for p in ent.periods}


def payment_values(
    bought: Mapping[str, Period],
    facts: list[Fact],
    txn_id: str,
    amount: Decimal,
    status: PaymentStatus,
) -> tuple[datetime | None, datetime | None, PaymentStatus]:
    """A payment's (period start, period end, status) under the subscription's facts."""
    period = bought.get(txn_id)
    return (
        period.start if period else None,
        period.end if period else None,
        payment_status(facts, txn_id, amount) or status,
    )


def bump_access_version(*user_ids: int) -> None:
    """Make every session of these members recompute its roles on its next request."""
    db.session.execute(
        update(User).where(User.id.in_(user_ids)).values(access_version=User.access_version + 1)
    )
    members_changed(user_ids)  # every process's copy of them goes at commit
