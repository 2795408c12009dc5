"""The plain sentence a member (and an admin) reads about a subscription's state (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .entitlements import Entitlement
from .statuses import SubscriptionState as State
from .timetext import day_text, is_lifetime


@dataclass(frozen=True)
class MoneyBack:
    """The latest refund or chargeback of one of a subscription's payments."""

    at: datetime
    charged_back: bool
    amount: Decimal | None  # what went back; None when PayPal did not say
    currency: str
    removed: bool  # that payment's period no longer gives access


def money_back_text(m: MoneyBack) -> str:
    """E.g. 'Refunded 9.00 USD on 3 Feb 2026: that payment's period no longer gives access',
    for a partial refund '2.00 USD refunded on 3 Feb 2026; access unchanged' (no full stop)."""
    money = f"{m.amount:.2f} {m.currency}".strip() if m.amount is not None else ""
    day = day_text(m.at)
    if not m.removed:  # a partial refund (a chargeback PayPal cancelled is not told)
        return f"{money or 'Part of a payment'} refunded on {day}; access unchanged"
    verb = "Charged back" if m.charged_back else "Refunded"
    what = f"{verb} {money}" if money else verb
    return f"{what} on {day}: that payment's period no longer gives access"


def reason(
    ent: Entitlement,
    now: datetime,
    revoke_note: str = "",
    renews: bool = False,
    money_back: MoneyBack | None = None,
) -> str:
    """Why the subscription is where it is; `now` for the tense. `revoke_note` is the
    message an admin wrote for the member (never the internal reason); `money_back`, the
    latest refund or chargeback not followed by a payment, is said before the state."""
    if ent.state is State.REVOKED and ent.revoked_at:
        said = revoke_note.strip().rstrip(".") if revoke_note else ""
        tail = f": {said}." if said else ". Contact us if you have questions."
        return f"Access ended by the site on {day_text(ent.revoked_at)}{tail}"
    if ent.state in (State.REFUNDED, State.CHARGED_BACK):
        if money_back is not None:
            return f"{money_back_text(money_back)}; nothing is paid for."
        if ent.money_back_at:
            verb = "Refunded" if ent.state is State.REFUNDED else "Charged back"
            return f"{verb} on {day_text(ent.money_back_at)}; nothing is paid for."
    said = _state_reason(ent, now, renews)
    return f"{money_back_text(money_back)}. {said}" if money_back is not None else said


def _state_reason(ent: Entitlement, now: datetime, renews: bool) -> str:
    access = ent.access_until
    if ent.grace_until and ent.paid_through and now < ent.grace_until:
        return (
            f"A renewal payment failed; PayPal retries until {day_text(ent.grace_until)}, and "
            "your access continues meanwhile. Check your payment method at PayPal."
        )
    if ent.state is State.ENDED and ent.ended_at and ent.last_of:
        if now < ent.ended_at:
            return (
                f"Ends on {day_text(ent.ended_at)} (the last of {ent.last_of} payments is "
                "made): PayPal will not bill it again."
            )
        return f"Ended on {day_text(ent.ended_at)}, after the last of {ent.last_of} payments."
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
    if is_lifetime(access):
        return "Lifetime access: it never ends."
    if renews:
        return f"Renews on {day_text(access)}."
    return f"Access until {day_text(access)}."


#: How each renewal state reads in the admin's timeline of PayPal messages.
STATE_WORDS = {
    State.PENDING: "waiting for its first payment",
    State.ACTIVE: "active",
    State.SUSPENDED: "paused at PayPal",
    State.CANCELLED: "cancelled (no more renewals)",
    State.ENDED: "ended at PayPal",
    State.REVOKED: "revoked by an admin",
    State.REFUNDED: "refunded",
    State.CHARGED_BACK: "charged back",
}


def state_text(state: State, access_until: datetime | None, now: datetime) -> str:
    """A subscription's state and access at `now` in words, e.g. "active, access until
    15 Feb 2026" or "waiting for its first payment, no access yet" (never "none")."""
    if access_until is None:
        access = "no access yet" if state is State.PENDING else "no access"
    elif now < access_until:
        access = f"access until {day_text(access_until)}"
    else:
        access = f"access ended {day_text(access_until)}"
    return f"{STATE_WORDS[state]}, {access}"
