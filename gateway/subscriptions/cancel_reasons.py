"""The one optional question asked when a member cancels, and its answers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Select, func, select

from models import Subscription, db

#: code -> what the member reads; "other" takes a few words of their own.
REASONS = {
    "too_expensive": "It costs too much",
    "not_using": "I don't use it enough",
    "missing": "Something I need is missing",
    "switching": "I'm moving to another service",
    "problems": "Technical problems",
    "other": "Another reason",
}
NOTE_LENGTH = 200


def keep(sub: Subscription, reason: str, note: str) -> None:
    """Keep the member's answer (an unknown code or no answer keeps nothing)."""
    if reason not in REASONS:
        return
    sub.cancel_reason = reason
    sub.cancel_note = (" ".join(note.split())[:NOTE_LENGTH] or None) if reason == "other" else None


def label(sub: Subscription) -> str:
    """The answer as an admin reads it ("" if none)."""
    if not sub.cancel_reason:
        return ""
    text = REASONS.get(sub.cancel_reason, sub.cancel_reason)
    return f"{text}: {sub.cancel_note}" if sub.cancel_note else text


def counts(since: datetime | None = None) -> Mapping[str, int]:
    """How many subscriptions gave each answer, in the question's order (the dashboard);
    with `since`, only those cancelled since then."""
    found = dict(db.session.execute(statement(since)).all())
    return {code: int(found.get(code, 0)) for code in REASONS}


def statement(since: datetime | None = None) -> Select[str | None, int]:
    """(answer, how many) per answer. With `since`, a range of ix_subscriptions_cancel_reason
    (only the period's answered cancellations are read, never the table)."""
    stmt = select(Subscription.cancel_reason, func.count()).where(
        Subscription.cancel_reason.is_not(None)
    )
    if since is not None:
        stmt = stmt.where(Subscription.cancelled_at >= since)
    return stmt.group_by(Subscription.cancel_reason)
