"""Notices to members, queued from facts the moment they are first stored.

A fact is stored once (its unique key), and its notice is queued under a key derived
from the real event it reports, so each notice goes out once whatever the order or
repetition of PayPal's messages, and whichever channels report it: one refund told by
the admin's action, an IPN and a webhook is one mail (keyed by the refund's own
transaction id), one chargeback is one mail per payment, one cancellation one mail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import or_, select

from models import Payment, Subscription, SubscriptionTerms, db

from .. import mail
from ..billing import Entitlement, compute
from ..billing.rules.entitlements import refund_identity
from ..billing.rules.facts import Fact, FactKind
from ..billing.rules.statuses import SubscriptionState

TEMPLATES = {
    FactKind.PAYMENT_COMPLETED: "payment_received",
    FactKind.REFUNDED: "refund_issued",
    FactKind.REVERSED: "payment_reversed",
    FactKind.PAYMENT_FAILED: "renewal_failed",
    FactKind.CANCELLED: "cancellation_confirmed",
}
#: Facts that can open a subscription's access: the first one sends the welcome.
OPENING = {FactKind.TRIAL, FactKind.PAYMENT_COMPLETED}


def notice_key(sub_id: int, fact: Fact) -> str:
    """The outbox key of a fact's notice: the identity of the event, not of the message."""
    if fact.kind is FactKind.REFUNDED:
        # IPN says `<refund>:Refunded:<txn_type>`, the webhook and our own request
        # `<refund>:Refunded`: the same refund, one mail (the last form: keys already queued).
        return f"notice:{sub_id}:refunded:{refund_identity(fact.key)}:Refunded"
    if fact.kind is FactKind.REVERSED:
        return f"notice:{sub_id}:reversed:{fact.txn_id or fact.key}"  # one per payment
    if fact.kind is FactKind.CANCELLED:
        return f"notice:{sub_id}:cancelled"  # IPN and webhook name it differently
    if fact.kind is FactKind.PAYMENT_COMPLETED and fact.txn_id:
        return f"notice:{sub_id}:paid:{fact.txn_id}"  # one receipt, IPN and webhook alike
    return f"notice:{sub_id}:{fact.kind.value}:{fact.key}"


@dataclass(frozen=True)
class MoneyBack:
    """What a refund or reversal changed, for its mail."""

    amount: Decimal | None  # this refund's amount (positive)
    paid: Decimal | None  # the payment it takes from
    full: bool  # the period that payment bought no longer counts
    access_until: datetime | None  # access now runs until (None: no access)


def notify(
    sub: Subscription,
    facts: Iterable[Fact],
    new: set[tuple[str, str]],
    now: datetime,
    *,
    ent: Entitlement | None = None,
    currency: str = "",
    terms_rows: list[SubscriptionTerms] | None = None,
) -> int:
    """Queue the notices of the facts just stored for the first time; how many."""
    return mail.queue_rows(
        notices_for(sub, facts, new, now, ent=ent, currency=currency, terms_rows=terms_rows)
    )


def notices_for(
    sub: Subscription,
    facts: Iterable[Fact],
    new: set[tuple[str, str]],
    now: datetime,
    *,
    ent: Entitlement | None = None,
    currency: str = "",
    terms_rows: list[SubscriptionTerms] | None = None,
) -> list[dict[str, Any]]:
    """The notices of the facts just stored for the first time, rendered with the
    subscription as it is now, after recompute (to queue with `mail.queue_rows`).

    `ent`: the entitlement just computed (said by refund mails: was the period removed?);
    `currency`: the message's own, else the plan's; `terms_rows`: the subscription's terms
    history, when the caller has it (else the welcome's next charge reads it)."""
    if sub.user is None:
        return []  # no member yet: nobody to tell (assigning one later sends nothing old)
    fresh = [f for f in facts if (f.kind.value, f.key) in new]
    if not fresh:
        return []
    if ent is None:
        from .service import billing_period, facts_of, policy

        ent = compute(facts_of(sub), billing_period(sub), policy())
    currency = currency or (sub.plan.currency if sub.plan is not None else "")
    common = {"sub": sub, "currency": currency, "account_url": mail.link("member.account")}
    to, rows = sub.user.email, []
    if _opened(sub, fresh, ent, now):
        from .display import next_charge
        from .service import billing_period

        welcome = f"notice:{sub.id}:welcome"
        charge = next_charge(sub, now, terms_rows)
        rows.append(
            mail.render(
                welcome,
                to,
                "subscription_confirmed",
                now,
                next_charge=charge,
                fixed_term=bool(ent.last_of or billing_period(sub, terms_rows).cycles),
                **common,
            )
        )
    for fact in fresh:
        if fact.kind not in TEMPLATES:
            continue
        if fact.kind is FactKind.CANCELLED and sub.access_until is None:
            continue  # never opened (an abandoned approval): nothing to confirm
        extra: dict[str, Any] = {}
        if fact.kind in (FactKind.REFUNDED, FactKind.REVERSED):
            extra["back"] = _money_back(sub, fact, ent, now)
        extra |= receipt_links(fact)
        key, template = notice_key(sub.id, fact), TEMPLATES[fact.kind]
        rows.append(mail.render(key, to, template, now, fact=fact, **common, **extra))
    return rows


def _opened(sub: Subscription, fresh: list[Fact], ent: Entitlement, now: datetime) -> bool:
    """The subscription's access opened with these facts: its trial, or its first paid
    period (a renewal of an older subscription is not a welcome)."""
    if sub.access_until is None or sub.access_until <= now:
        return False
    first_paid = ent.periods[0].txn_id if len(ent.periods) == 1 else None
    return any(
        fact.kind is FactKind.TRIAL
        or (fact.kind is FactKind.PAYMENT_COMPLETED and fact.txn_id == first_paid)
        for fact in fresh
    )


def _money_back(sub: Subscription, fact: Fact, ent: Entitlement, now: datetime) -> MoneyBack:
    counted = {p.txn_id for p in ent.periods}
    with db.session.no_autoflush:  # the batch path writes its rows later, together
        paid = db.session.scalar(select(Payment.amount).where(Payment.txn_id == fact.txn_id))
    amount = abs(fact.amount) if fact.amount is not None else paid
    access = sub.access_until if sub.access_until and sub.access_until > now else None
    return MoneyBack(amount, paid, fact.txn_id not in counted, access)


def receipt_links(fact: Fact) -> dict[str, str]:
    """A payment mail's absolute links to its receipt and the PDF, by PayPal's transaction
    (a batch writes its mails before its payments have ids)."""
    if fact.kind is not FactKind.PAYMENT_COMPLETED or not fact.txn_id:
        return {}
    return {
        "receipt_url": mail.link("member.receipt_by_txn", txn_id=fact.txn_id, as_pdf=False),
        "receipt_pdf_url": mail.link("member.receipt_by_txn", txn_id=fact.txn_id, as_pdf=True),
    }


def access_notices(now: datetime) -> str:
    """The job: tell members whose trial ends soon (TRIAL_NOTICE_DAYS before: it turns
    into a paid renewal), whose access is about to end (cancelled, ended or failing,
    NOTICE_DAYS before) or has just ended. Keyed by the date: each once, and again only
    if the date moves."""
    days = int(current_app.config["NOTICE_DAYS"])
    soon = now + timedelta(days=days)
    trial_soon = now + timedelta(days=int(current_app.config["TRIAL_NOTICE_DAYS"]))
    trials = db.session.scalars(
        select(Subscription).where(
            Subscription.user_id.is_not(None),
            Subscription.state == SubscriptionState.ACTIVE,
            Subscription.trial_until > now,
            Subscription.trial_until <= trial_soon,
        )
    ).all()
    ending = db.session.scalars(
        select(Subscription).where(
            Subscription.user_id.is_not(None),
            Subscription.access_until > now,
            Subscription.access_until <= soon,
            or_(
                Subscription.state.in_(
                    (
                        SubscriptionState.CANCELLED,
                        SubscriptionState.ENDED,
                        SubscriptionState.SUSPENDED,
                    )
                ),
                Subscription.grace_until.is_not(None),
            ),
        )
    ).all()
    ended = db.session.scalars(
        select(Subscription).where(
            Subscription.user_id.is_not(None),
            Subscription.access_until <= now,
            Subscription.access_until > now - timedelta(days=days),
            # A renewing subscription whose payment is merely late is not "ended" yet;
            # a refund's or chargeback's own mail already said that access ended.
            or_(
                Subscription.state.not_in(
                    (
                        SubscriptionState.ACTIVE,
                        SubscriptionState.REFUNDED,
                        SubscriptionState.CHARGED_BACK,
                    )
                ),
                Subscription.grace_until.is_not(None),
            ),
        )
    ).all()
    queued = 0
    for template, subs in (("trial_ending", trials), ("access_ending", ending)):
        for sub in subs:
            queued += _remind(template, sub, now)
    for sub in ended:
        queued += _remind("access_ended", sub, now, why=_why(sub, now))
    db.session.commit()
    return f"{queued} notice(s) queued"


def _remind(template: str, sub: Subscription, now: datetime, **context: Any) -> bool:
    from .display import next_charge

    assert sub.user is not None and sub.access_until is not None
    at = sub.trial_until if template == "trial_ending" else sub.access_until
    assert at is not None
    return mail.queue(
        f"{template}:{sub.id}:{at:%Y%m%d%H%M}",
        sub.user.email,
        template,
        now,
        sub=sub,
        next_charge=next_charge(sub, now),
        account_url=mail.link("member.account"),
        **context,
    )


def _why(sub: Subscription, now: datetime) -> str:
    """The member's sentence for an access an admin ended (their message, never the
    internal reason); "" for an ordinary end, which the mail already says."""
    if sub.state is not SubscriptionState.REVOKED:
        return ""
    from .display import reason_of

    return reason_of(sub, now)
