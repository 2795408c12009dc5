"""Replay: recompute every subscription from the stored raw messages (plus admin actions)
and report where the result differs from the current state."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from models import Notification, Subscription, SubscriptionFact, db

from . import subscriptions as service
from .billing import Fact, FactKind, compute
from .billing.ipn import IpnMessage, decode_body, interpret

COMPARED = ("state", "paid_through", "grace_until", "access_until", "cancelled_at", "ended_at")


@dataclass
class Report:
    checked: int = 0
    differences: list[str] = field(default_factory=list)


def _replayed_facts() -> tuple[dict[int, set[tuple[Fact, int]]], list[str]]:
    """Facts per subscription id, derived again from every applied message's raw bytes."""
    by_sub: dict[int, set[tuple[Fact, int]]] = {}
    problems: list[str] = []
    subs = {s.paypal_id: s.id for s in db.session.scalars(
        select(Subscription).where(Subscription.paypal_id.is_not(None)))}
    payer: dict[str, int] = {}
    later: list[tuple[Notification, object]] = []
    notes = db.session.scalars(select(Notification).where(
        Notification.status == "processed", Notification.verification == "VERIFIED")
        .order_by(Notification.id)).all()
    for note in notes:
        msg = IpnMessage(decode_body(note.body)[0])
        meaning = interpret(msg, note.received_at)
        if not meaning.relevant:
            continue
        if meaning.parent_txn_id:          # refunds need their payment's subscription: second pass
            later.append((note, meaning))
            continue
        ref = msg.subscription_ref
        if ref not in subs:
            problems.append(f"message {note.id} names subscription {ref}, which has no row")
            continue
        for fact in meaning.facts:
            by_sub.setdefault(subs[ref], set()).add((fact, note.id))
            if fact.kind in (FactKind.PAYMENT_COMPLETED, FactKind.PAYMENT_PENDING):
                payer[fact.txn_id] = subs[ref]
    for note, meaning in later:
        sub_id = payer.get(meaning.parent_txn_id)
        if sub_id is None:
            problems.append(f"message {note.id} refunds payment {meaning.parent_txn_id}, "
                            "which no stored message reports")
            continue
        for fact in meaning.facts:
            by_sub.setdefault(sub_id, set()).add((fact, note.id))
    return by_sub, problems


def rebuild(now: datetime, apply: bool = False) -> Report:
    """Compare every subscription with a recomputation from raw messages and admin facts."""
    replayed, problems = _replayed_facts()
    report = Report(differences=problems)
    for sub in db.session.scalars(select(Subscription).order_by(Subscription.id)).all():
        report.checked += 1
        stored = db.session.scalars(select(SubscriptionFact).where(
            SubscriptionFact.subscription_id == sub.id)).all()
        known = {(r.kind, r.key) for r in stored}
        manual = [Fact(FactKind(r.kind), r.at, r.key, r.txn_id, r.amount, r.until)
                  for r in stored if r.source != "ipn"]
        from_messages = replayed.get(sub.id, set())
        missing = [(f, n) for f, n in from_messages if (f.kind.value, f.key) not in known]
        extra = {(r.kind, r.key) for r in stored if r.source == "ipn"} - {
            (f.kind.value, f.key) for f, _ in from_messages}
        ent = compute([f for f, _ in from_messages] + manual, service.terms(sub.plan),
                      service.policy())
        expected = {"state": ent.state.value, "paid_through": ent.paid_through,
                    "grace_until": ent.grace_until, "access_until": ent.access_until,
                    "cancelled_at": ent.cancelled_at, "ended_at": ent.ended_at}
        label = f"subscription {sub.id} ({sub.paypal_id or 'manual'})"
        for name in COMPARED:
            if getattr(sub, name) != expected[name]:
                report.differences.append(
                    f"{label}: {name} is {_fmt(getattr(sub, name))}, messages say "
                    f"{_fmt(expected[name])}")
        for kind, key in sorted(extra):
            report.differences.append(f"{label}: stored fact {kind} {key} has no message behind it")
        if missing:
            report.differences.append(f"{label}: {len(missing)} fact(s) from messages were "
                                      "never stored")
        if apply:
            for fact, note_id in missing:
                service.record_fact(sub, fact, source="ipn", now=now, notification_id=note_id)
            service.recompute(sub, now)
    if apply:
        db.session.commit()
    return report


def _fmt(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else repr(value)
