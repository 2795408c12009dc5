"""The plain sentence a member (and an admin) reads about a subscription's state (pure)."""

from __future__ import annotations

from datetime import datetime

from .entitlements import Entitlement
from .statuses import SubscriptionState as State
from .timetext import day_text


def reason(ent: Entitlement, now: datetime, revoke_note: str = "", renews: bool = False) -> str:
    """Why the subscription is where it is, in one sentence; `now` for the tense.
    `revoke_note` is the message an admin wrote for the member (never the internal reason)."""
    access = ent.access_until
    if ent.state is State.REVOKED and ent.revoked_at:
        said = revoke_note.strip().rstrip(".") if revoke_note else ""
        tail = f": {said}." if said else ". Contact us if you have questions."
        return f"Access ended by the site on {day_text(ent.revoked_at)}{tail}"
    if ent.state is State.REFUNDED and ent.money_back_at:
        return f"Refunded on {day_text(ent.money_back_at)}; nothing is paid for."
    if ent.state is State.CHARGED_BACK and ent.money_back_at:
        return f"Charged back on {day_text(ent.money_back_at)}; nothing is paid for."
    if ent.grace_until and ent.paid_through and now < ent.grace_until:
        return (
            f"A renewal payment failed; PayPal retries until {day_text(ent.grace_until)}, and "
            "your access continues meanwhile. Check your payment method at PayPal."
        )
    if ent.state is State.ENDED and ent.ended_at:
        return f"Ended on {day_text(ent.ended_at)}: PayPal will not bill it again."
    if ent.state is State.CANCELLED and ent.cancelled_at:
        until = f"; access until {day_text(access)}" if access and now < access else ""
        return f"Cancelled on {day_text(ent.cancelled_at)}{until}."
    if ent.state is State.SUSPENDED:
        return "Suspended at PayPal: no renewals until it is reactivated there."
    if ent.state is State.PENDING:
        return "Waiting for PayPal to confirm the payment."
    if access is None or now >= access:
        return f"Access ended on {day_text(access)}." if access else "No access."
    if ent.trial_until and now < ent.trial_until:
        return f"Free trial until {day_text(ent.trial_until)}."
    if renews:
        return f"Renews on {day_text(access)}."
    return f"Access until {day_text(access)}."
