"""A subscription's state in words, for members and admins."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select

from models import Payment, Subscription, SubscriptionFact, SubscriptionTerms, db

from ..billing import Entitlement, Fact, FactKind, compute, status_at
from ..billing.rules.entitlements import explain, is_past_due
from ..billing.rules.reasons import MoneyBack, reason
from ..billing.rules.statuses import SubscriptionState
from ..billing.rules.terms import next_price
from ..billing.rules.timetext import is_lifetime
from ..clock import day_text
from . import recorded_terms as agreed
from .service import billing_period, facts_of, policy


def _cached(sub: Subscription) -> Entitlement:
    """The subscription's entitlement as its row caches it (no recompute)."""
    return Entitlement(
        state=sub.state,
        trial_until=sub.trial_until,
        paid_through=sub.paid_through,
        grace_until=sub.grace_until,
        access_until=sub.access_until,
    )


def status_of(sub: Subscription, at: datetime) -> str:
    """The status word for a subscription at `at`, from its cached dates (no recompute)."""
    return status_at(_cached(sub), at)


def access_after(sub: Subscription, fact: Fact) -> Entitlement:
    """What the subscription would become with `fact` added (a confirmation page says
    it before an admin or member commits to it); nothing is written."""
    return compute([*facts_of(sub), fact], billing_period(sub), policy())


def explanation(sub: Subscription) -> list[str]:
    """Why this subscription gives access until when, recomputed from its facts."""
    pol = policy()
    return explain(compute(facts_of(sub), billing_period(sub), pol), pol)


@dataclass(frozen=True)
class ReasonFacts:
    """What a reason sentence reads beyond the row: the latest revoke (its member note and
    time), the latest refund or chargeback (with its payment), and when the last payment
    was completed. `reason_facts` reads them for many subscriptions in two queries."""

    revoked: Any = None
    money_back: Any = None
    last_paid_at: datetime | None = None


def reason_of(sub: Subscription, at: datetime, known: ReasonFacts | None = None) -> str:
    """The sentence the member page shows, e.g. "Refunded 9.00 USD on 3 Feb 2026: that
    payment's period no longer gives access; nothing is paid for." or why a signup was
    refused. `known`: its facts, if already read (`reason_facts`)."""
    if sub.plan_id is None:
        return "Your payment is recorded; we are matching it to a plan. Contact us if this lasts."
    if known is None:
        known = reason_facts([sub.id]).get(sub.id, ReasonFacts())
    revoked = known.revoked
    back_at, back = _money_back(sub, known)
    ent = Entitlement(
        state=sub.state,
        trial_until=sub.trial_until,
        paid_through=sub.paid_through,
        grace_until=sub.grace_until,
        access_until=sub.access_until,
        cancelled_at=sub.cancelled_at,
        ended_at=sub.ended_at,
        revoked_at=revoked.at if revoked is not None else None,
        money_back_at=back_at,
        last_of=last_of(sub),
    )
    # Only the message written for the member: the admin's reason (`note`) stays internal.
    note = revoked.member_note if revoked is not None and revoked.member_note else ""
    return reason(ent, at, revoke_note=note, renews=sub.renews, money_back=back)


def last_of(sub: Subscription) -> int | None:
    """The terms' number of payments once the last of them is made (the subscription then
    ends with its period), else None."""
    terms = agreed.in_force(sub) if sub.state is SubscriptionState.ENDED else None
    if terms is None or not terms.cycles:
        return None
    counted = db.session.scalar(
        select(func.count(Payment.id)).where(
            Payment.subscription_id == sub.id, Payment.period_end.is_not(None)
        )
    )
    return (
        terms.cycles
        if terms.billing_period.regular_payments(counted or 0) >= terms.cycles
        else None
    )


def _money_back(sub: Subscription, known: ReasonFacts) -> tuple[datetime | None, MoneyBack | None]:
    """When money last went back (a refund or chargeback), and that event as the member
    reads it: not once a later payment was made (the story moved on), nor a chargeback
    PayPal cancelled (its period counts again)."""
    last = known.money_back
    if last is None:
        return None, None
    paid_since = known.last_paid_at is not None and known.last_paid_at > last.at
    charged_back = last.kind == FactKind.REVERSED.value
    removed = last.paid is None or last.period_end is None
    if paid_since or (charged_back and not removed):
        return last.at, None
    amount = abs(last.amount) if last.amount is not None else last.paid
    currency = last.currency or (sub.plan.currency if sub.plan else "")
    return last.at, MoneyBack(last.at, charged_back, amount, currency, removed)


def reason_facts(sub_ids: Collection[int]) -> dict[int, ReasonFacts]:
    """The facts `reason_of` reads, for each of these subscriptions, in two queries."""
    f, p = SubscriptionFact, Payment
    latest: dict[tuple[int, str], Any] = {}
    rows = db.session.execute(
        select(
            f.subscription_id,
            f.kind,
            f.at,
            f.member_note,
            f.amount,
            p.amount.label("paid"),
            p.currency,
            p.period_end,
        )
        .outerjoin(p, and_(p.txn_id == f.txn_id, p.subscription_id == f.subscription_id))
        .where(f.subscription_id.in_(list(sub_ids)), f.kind.in_(MONEY_BACK + (REVOKED,)))
        .order_by(f.at, f.id)
    )
    for row in rows:  # in (at, id) order: the last one kept is the latest
        latest[(row.subscription_id, "revoked" if row.kind == REVOKED else "back")] = row
    paid = dict(
        db.session.execute(
            select(f.subscription_id, func.max(f.at))
            .where(
                f.subscription_id.in_(list(sub_ids)),
                f.kind == FactKind.PAYMENT_COMPLETED.value,
            )
            .group_by(f.subscription_id)
        ).all()
    )
    return {
        i: ReasonFacts(latest.get((i, "revoked")), latest.get((i, "back")), paid.get(i))
        for i in sub_ids
    }


REVOKED = FactKind.REVOKED.value
MONEY_BACK = (FactKind.REFUNDED.value, FactKind.REVERSED.value)


def next_charge(
    sub: Subscription, at: datetime, terms_rows: list[SubscriptionTerms] | None = None
) -> str:
    """When PayPal will charge next and how much, from the subscription's own terms; "" if
    it will not (cancelled, ended, manual, a pass, or already past due). `terms_rows`: its
    terms history, if already loaded."""
    if not sub.renews or sub.paid_through is None or sub.paid_through <= at:
        return ""
    terms = agreed.in_force(sub, rows=terms_rows)
    if terms is None:
        return f"the agreed amount on {day_text(sub.paid_through)}"
    price = next_price(terms, sub.started_at, sub.paid_through)
    in_all = f" ({terms.cycles} payments in all)" if terms.cycles else ""
    return f"{price} {terms.currency} on {day_text(sub.paid_through)}{in_all}"


def pass_end(sub: Subscription, at: datetime) -> str:
    """What My subscriptions says instead of a next charge for a pass: "lifetime", "ends on
    15 Jan 2026"; "" once ended, and for anything but a pass."""
    if not sub.is_pass or sub.paid_through is None or sub.paid_through <= at:
        return ""
    return "lifetime" if is_lifetime(sub.paid_through) else f"ends on {day_text(sub.paid_through)}"


def past_due(sub: Subscription, at: datetime) -> bool:
    """A renewal failed and PayPal is still retrying: access runs until the grace ends."""
    return is_past_due(_cached(sub), at)
