"""Apply one verified interpretation: checks, find or create its subscription, store facts
and payments, recompute. Channel-neutral: it reads only the `Interpretation`.

All effects go through unique keys in the database, so applying a message twice, or two
copies at once, has one effect.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import flag_modified

from models import Notification, Payment, Subscription, SubscriptionTerms, db

from ..billing.rules.checks import check_amount, check_environment, check_receiver
from ..billing.rules.facts import Fact, FactKind
from ..billing.rules.interpretation import Interpretation, PaymentInfo
from ..billing.rules.reasons import state_text
from ..billing.rules.statuses import (
    NotificationStatus,
    TermsSource,
)
from ..billing.rules.terms import differences, expected_amounts
from ..database import insert_new, lock_keys
from ..receipts import numbering as receipts
from ..records.flags import raise_flag
from ..subscriptions import notices, service
from ..subscriptions import recorded_terms as agreed
from ..subscriptions.plan_change import follow_plan
from .first_row import create_subscription
from .problems import Deferred, Flagged
from .purchases import pass_for


@dataclass(frozen=True)
class Applied:
    outcome: str
    subscription_id: int | None = None
    #: (kind, key) of facts this application stored for the first time.
    new_facts: tuple[tuple[str, str], ...] = ()


LABELS = ("txn_type", "txn_id", "payment_status", "subscr_id")


def describe(note: Notification, meaning: Interpretation) -> None:
    """Copy the filterable labels onto the row (kept even if applying fails later)."""
    note.txn_type = _clip(meaning.event, 64)
    note.txn_id = _clip(meaning.txn_id, 64)
    note.payment_status = _clip(meaning.status, 32)
    note.subscr_id = _clip(meaning.subscription_ref, 64)
    # Every label counts as changed (a signup's empty txn_id too), so a batch's rows share
    # one UPDATE (executemany): rows whose changed columns differ cost one UPDATE each.
    for label in LABELS:
        flag_modified(note, label)


def _clip(value: str, length: int) -> str | None:
    return value[:length] or None


def run_checks(meaning: Interpretation) -> None:
    """Receiver and environment, for every message; raises Flagged."""
    cfg = current_app.config
    for kind, problem in (
        (
            "receiver",
            check_receiver(
                meaning.receiver,
                [cfg["PAYPAL_BUSINESS"], *cfg["PAYPAL_RECEIVER_EMAILS"]],
                [cfg["PAYPAL_RECEIVER_ID"], *cfg["PAYPAL_RECEIVER_IDS"]],
            ),
        ),
        ("environment", check_environment(meaning.is_test, cfg["PAYPAL_MODE"])),
        ("unreadable", meaning.error or None),
    ):
        if problem:
            raise Flagged(kind, problem)


def apply(note: Notification, meaning: Interpretation, now: datetime) -> Applied:
    """Apply a verified message; returns what happened. Raises Flagged / Deferred.

    The subscription's row is locked first, so messages about one subscription apply one
    after the other however many workers run (PostgreSQL; SQLite has a single writer).
    """
    run_checks(meaning)
    if not meaning.relevant:
        return Applied(meaning.summary)

    sub = _subscription_for(meaning, note, now)
    follow_plan(sub, meaning, now, note.id)  # a revise PayPal confirms
    facts = _check_terms(sub, meaning, note, now)
    history = agreed.history(sub)
    problem = amount_problem(sub, meaning, history)
    if problem:
        raise Flagged("amount", problem)
    new = service.record_facts(
        sub, facts, source=note.channel.value, now=now, notification_id=note.id
    )
    if meaning.payment is not None and _record_payment(sub, meaning, meaning.payment, now):
        wake_waiting([meaning.payment.txn_id], now)  # refunds that came first can go now
    ent = service.recompute(sub, now, history)
    # after recompute: the mail states the new dates
    notices.notify(
        sub,
        facts,
        new,
        now,
        ent=ent,
        currency=meaning.money.currency if meaning.money else "",
        terms_rows=history,
    )
    if meaning.payment is not None or meaning.parent_txn_id:
        receipts.issue([sub.id], now)  # a payment just paid gets its number
    note.subscription_id = sub.id
    note.waiting_for = None
    for warning in meaning.warnings:
        raise_flag("date", warning, now, notification_id=note.id, subscription_id=sub.id)
    return Applied(outcome_text(meaning, sub, bool(new), now), sub.id, tuple(sorted(new)))


def amount_problem(
    sub: Subscription, meaning: Interpretation, history: list[SubscriptionTerms]
) -> str | None:
    """What is wrong with a completed payment's amount under the terms then in force."""
    if not meaning.completes_payment or meaning.payment is None:
        return None
    terms = agreed.in_force(sub, meaning.payment.at, history)
    if terms is None:
        return None
    return check_amount(
        meaning.money,
        expected_amounts(terms, sub.started_at, meaning.payment.at),
        terms.currency,
        terms.describe(),
    )


def outcome_text(
    meaning: Interpretation, sub: Subscription, stored_new: bool, now: datetime
) -> str:
    """The message's outcome for the admin log, with the subscription as it left it at
    `now`, in words: "...; subscription 5 then: active, access until 15 Feb 2026"."""
    applied = stored_new or not meaning.facts
    return (
        f"{meaning.summary}{'' if applied else ' (already applied: no change)'}; "
        f"subscription {sub.id} then: {state_text(sub.state, sub.access_until, now)}"
    )


def _check_terms(
    sub: Subscription, meaning: Interpretation, note: Notification, now: datetime
) -> tuple[Fact, ...]:
    """Judge the message's terms (`judge_terms`) and record them; returns its facts."""
    facts = judge_terms(sub, meaning, agreed.history(sub))
    if meaning.terms is not None and meaning.terms_event:
        agreed.record_terms(
            sub, terms_source(meaning), meaning.terms_at or now, meaning.terms, now, note.id
        )
    return facts


def judge_terms(
    sub: Subscription, meaning: Interpretation, history: list[SubscriptionTerms]
) -> tuple[Fact, ...]:
    """A signup must report exactly the terms we offered; a change is recorded, dated.
    Returns the message's facts that may be recorded; raises Flagged.

    A tampered button (a trial added, a lower price, a longer period, another currency)
    still gets a genuine, VERIFIED signup from PayPal: this is where it is caught. With
    no offer to compare (the plan is unknown) the reported terms are kept but no trial is
    granted: assigning the plan compares them then (`admin_actions.assign`).
    """
    facts = meaning.facts
    if meaning.terms_event == "signup":
        offer = agreed.offer_of(sub, history)
        if meaning.terms is None:
            raise Flagged("terms", "the signup reports no terms; nothing granted")
        if offer is None:
            facts = tuple(f for f in facts if f.kind is not FactKind.TRIAL)
        found = differences(offer, meaning.terms) if offer is not None else []
        if found:
            raise Flagged(
                "terms",
                f"signup terms differ from our offer ({offer.describe() if offer else ''}): "
                f"{'; '.join(found)}; nothing granted",
                member_message="Your PayPal signup did not match the terms we offered, so it "
                "gives no access. Please contact us: we will sort it out with you.",
            )
    return facts


def terms_source(meaning: Interpretation) -> TermsSource:
    return TermsSource.SIGNUP if meaning.terms_event == "signup" else TermsSource.CHANGE


def wake_waiting(txn_ids: Collection[str], now: datetime) -> None:
    """Refunds and reversals that came before these (just stored) payments can be applied
    now. The locks pair with the one a deferral takes (worker._defer): either it sees the
    payment, or this sees it waiting."""
    if not txn_ids:
        return
    lock_keys(payment_key(t) for t in txn_ids)
    db.session.execute(
        update(Notification)
        .where(
            Notification.waiting_for.in_(sorted(txn_ids)),
            Notification.status == NotificationStatus.DEFERRED,
        )
        .values(next_attempt_at=now)
    )


def _subscription_for(meaning: Interpretation, note: Notification, now: datetime) -> Subscription:
    if meaning.parent_txn_id:
        sub_id = db.session.scalar(
            select(Payment.subscription_id).where(Payment.txn_id == meaning.parent_txn_id)
        )
        if sub_id is None:
            raise Deferred(
                f"waiting for payment {meaning.parent_txn_id} to arrive", meaning.parent_txn_id
            )
        return service.lock(Subscription.id == sub_id)
    if meaning.one_time:  # a pass bought once (pipeline/purchases.py)
        return pass_for(meaning, note, now)
    ref = meaning.subscription_ref
    if not ref:
        raise Flagged("unreadable", "the message names no subscription (subscr_id)")
    sub = service.lock(Subscription.paypal_id == ref, missing_ok=True)
    return sub or create_subscription(ref, meaning, note, now)


def payment_key(txn_id: str) -> str:
    """The lock a payment's arrival and a deferral waiting for it both take (no lost wake-up)."""
    return f"payment:{txn_id}"


def payment_exists(txn_id: str) -> bool:
    return db.session.scalar(select(Payment.id).where(Payment.txn_id == txn_id)) is not None


def _record_payment(
    sub: Subscription, meaning: Interpretation, info: PaymentInfo, now: datetime
) -> bool:
    """One row per PayPal transaction (True if this one is new); its status is derived
    from facts in recompute."""
    created = insert_new(
        Payment,
        [service.payment_row(sub, info, now, meaning.payer_name)],
        unique=("txn_id",),
        returning=("id",),
    )
    return bool(created)
