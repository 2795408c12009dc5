"""The one optional question asked when a member cancels, and its answers."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select

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


def counts() -> Mapping[str, int]:
    """How many subscriptions gave each answer, in the question's order (the dashboard)."""
    found = dict(
        db.session.execute(
            select(Subscription.cancel_reason, func.count())
            .where(Subscription.cancel_reason.is_not(None))
            .group_by(Subscription.cancel_reason)
        ).all()
    )
    return {code: int(found.get(code, 0)) for code in REASONS}
