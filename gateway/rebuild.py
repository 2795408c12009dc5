"""Replay: run every applied message through the live apply path again and report where
the result differs from what is stored (docs/architecture.md, "Replay").

Replay uses each message's stored verification, never a new one, and the same
`pipeline.apply` as live processing, so there is no second copy of the mappings. Without
`apply=True` everything it did is rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from models import Notification, Subscription, SubscriptionFact, db

from .billing.statuses import Channel, NotificationStatus
from .pipeline.apply import Deferred, Flagged
from .pipeline.apply import apply as apply_message
from .pipeline.channels import adapter_for
from .pipeline.worker import VERIFIED, received
from .subscriptions.service import recompute

COMPARED = ("state", "paid_through", "grace_until", "access_until", "cancelled_at", "ended_at")
CHANNEL_SOURCES = {c.value for c in Channel}


@dataclass
class Report:
    checked: int = 0
    differences: list[str] = field(default_factory=list)


def rebuild(now: datetime, apply: bool = False) -> Report:
    """Compare every subscription with a recomputation from raw messages and admin facts."""
    report = Report()
    before = {s.id: _snapshot(s) for s in db.session.scalars(select(Subscription)).all()}
    produced = _replay(now, report)
    for sub in db.session.scalars(select(Subscription).order_by(Subscription.id)).all():
        report.checked += 1
        label = f"subscription {sub.id} ({sub.paypal_id or 'manual'})"
        recompute(sub, now)
        if sub.id not in before:
            report.differences.append(f"{label}: messages name it, but it had no row")
            continue
        for name, was in before[sub.id].items():
            if getattr(sub, name) != was:
                report.differences.append(
                    f"{label}: {name} is {_fmt(was)}, messages say {_fmt(getattr(sub, name))}"
                )
        for kind, key in _channel_facts(sub.id) - produced.get(sub.id, set()):
            report.differences.append(f"{label}: stored fact {kind} {key} has no message behind it")
    if apply:
        db.session.commit()
    else:
        db.session.rollback()
    return report


def _replay(now: datetime, report: Report) -> dict[int, set[tuple[str, str]]]:
    """Apply every processed, verified message again; returns the facts each one implies."""
    produced: dict[int, set[tuple[str, str]]] = {}
    notes = db.session.scalars(
        select(Notification)
        .where(
            Notification.status == NotificationStatus.PROCESSED,
            Notification.verification == VERIFIED,
        )
        .order_by(Notification.id)
    ).all()
    for note in notes:
        meaning = adapter_for(note.channel).interpret(received(note))
        if not meaning.relevant:
            continue
        try:
            with db.session.begin_nested():
                result = apply_message(note, meaning, now)
        except (Flagged, Deferred) as e:
            report.differences.append(f"message {note.id} would not apply now: {e}")
            continue
        if result.subscription_id is None:
            continue
        produced.setdefault(result.subscription_id, set()).update(
            (f.kind.value, f.key) for f in meaning.facts
        )
        if result.new_facts:
            report.differences.append(
                f"subscription {result.subscription_id}: {len(result.new_facts)} fact(s) from "
                f"message {note.id} were never stored"
            )
    return produced


def _snapshot(sub: Subscription) -> dict[str, Any]:
    return {name: getattr(sub, name) for name in COMPARED}


def _channel_facts(sub_id: int) -> set[tuple[str, str]]:
    rows = db.session.execute(
        select(SubscriptionFact.kind, SubscriptionFact.key).where(
            SubscriptionFact.subscription_id == sub_id, SubscriptionFact.source.in_(CHANNEL_SOURCES)
        )
    )
    return {(kind, key) for kind, key in rows}


def _fmt(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else repr(value)
