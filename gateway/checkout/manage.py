"""A member's (or an admin's) changes to a subscription at PayPal: a plan change (REST
revise), pause and resume (REST suspend / activate), cancelling a Standard subscription
through the classic NVP API, and an admin's cancel of either kind.

Nothing is recorded on our word: each call is followed by asking PayPal and applying its
answer like any message (gateway/checkout/asking.py), and the webhooks PayPal sends
afterwards are the same facts again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from models import Plan, Subscription, User

from ..billing.rules.statuses import SubscriptionState
from ..paypal import nvp
from ..paypal.api import ApiError, api_client
from ..pipeline.worker import process_one
from ..records.audit import audit
from . import rest_cancel
from .asking import ask
from .rest_cancel import is_rest


def learn(sub: Subscription, now: datetime) -> None:
    """Ask PayPal about the subscription and apply its answer at once."""
    assert sub.paypal_id
    since = min(sub.paid_through or sub.created_at, now)  # the window must not end before it starts
    for note_id in ask(api_client(), sub.paypal_id, since, now):
        process_one(note_id)


# --- pause and resume ---------------------------------------------------------------


def can_pause(sub: Subscription) -> bool:
    return (
        bool(current_app.config["MEMBER_PAUSE"])
        and sub.state is SubscriptionState.ACTIVE
        and is_rest(sub)
    )


def can_resume(sub: Subscription) -> bool:
    return (
        bool(current_app.config["MEMBER_PAUSE"])
        and sub.state is SubscriptionState.SUSPENDED
        and is_rest(sub)
    )


def pause(sub: Subscription, now: datetime) -> None:
    """Suspend at PayPal: no renewals; access stays to the paid-through date. Raises ApiError."""
    _set_status(sub, "suspend", "Paused by the member", now)


def resume(sub: Subscription, now: datetime) -> None:
    """Activate at PayPal: billing resumes (PayPal charges what fell due while paused)."""
    _set_status(sub, "activate", "Resumed by the member", now)


def _set_status(sub: Subscription, action: str, reason: str, now: datetime) -> None:
    assert sub.paypal_id
    try:
        # One key per action and state: a double click is one call; a later pause is new.
        api_client().set_status(
            sub.paypal_id,
            action,
            reason,
            request_id=f"tollgate-{action}-{sub.paypal_id}-{sub.updated_at:%Y%m%d%H%M%S}",
        )
    except ApiError as e:
        if e.status != 422:  # 422: already in that state, which is what was asked
            raise
    learn(sub, now)


# --- plan change (revise) -------------------------------------------------------------


@dataclass(frozen=True)
class ChangePreview:
    """What the member reads before confirming a plan change."""

    new_plan: Plan
    #: The date PayPal first charges the new price (the current paid-through date).
    first_charge_on: datetime | None
    #: True when PayPal will ask the member to approve the new price.
    needs_approval: bool


def change_targets(sub: Subscription, plans: list[Plan]) -> list[Plan]:
    """Plans a REST subscription can move to in place: other REST plans on offer in the
    same currency and billing period (one period is laid over all of a subscription's
    payments, so other periods go through the switch flow)."""
    if sub.plan is None or sub.state is not SubscriptionState.ACTIVE or not is_rest(sub):
        return []
    cur = sub.plan
    return [
        p
        for p in plans
        if p.id != cur.id
        and p.active
        and p.paypal_plan_id
        and p.currency == cur.currency
        and (p.period_count, p.period_unit) == (cur.period_count, cur.period_unit)
    ]


def preview(sub: Subscription, plan: Plan) -> ChangePreview:
    assert sub.plan is not None
    return ChangePreview(plan, sub.paid_through, plan.price != sub.plan.price)


def change_plan(
    sub: Subscription, plan: Plan, return_url: str, cancel_url: str, now: datetime
) -> str:
    """Ask PayPal to move the subscription to `plan`. Returns PayPal's approve link when the
    member must consent there, else "" (PayPal made the change: its answer is applied).
    The new plan's roles come only from PayPal's confirmation (subscriptions/plan_change.py)."""
    assert sub.paypal_id and plan.paypal_plan_id
    answer = api_client().revise_subscription(
        sub.paypal_id, plan.paypal_plan_id, return_url, cancel_url
    )
    for link in answer.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "approve" and link.get("href"):
            return str(link["href"])
    learn(sub, now)
    return ""


# --- cancelling a Standard subscription -------------------------------------------------


def can_cancel_classic(sub: Subscription) -> bool:
    """A Standard subscription that renews, with classic API credentials configured."""
    return (
        sub.state is SubscriptionState.ACTIVE
        and bool(sub.paypal_id)
        and not sub.is_pass  # paid once: nothing renews at PayPal
        and nvp.configured(current_app.config)
        and not is_rest(sub)
    )


def cancel_classic(sub: Subscription, note: str) -> None:
    """ManageRecurringPaymentsProfileStatus ACTION=Cancel. Raises ApiError. PayPal then
    sends subscr_cancel (or recurring_payment_profile_cancel) by IPN, verified and applied
    like any: until it arrives the subscription shows what it showed."""
    assert sub.paypal_id
    try:
        nvp.manage_profile(current_app.config, sub.paypal_id, "Cancel", note)
    except ApiError as e:
        if e.name != nvp.NOT_CANCELLABLE:  # already cancelled: what was asked
            raise


# --- an admin's cancel ------------------------------------------------------------------

#: What PayPal (and through it the payer) reads: the admin's reason stays in the audit log.
ADMIN_NOTE = "Cancelled by the seller"
VIA = {"rest": "the Subscriptions API", "classic": "the classic NVP API"}


def admin_cancel_kind(sub: Subscription) -> str:
    """How an admin can cancel this subscription at PayPal: "rest" (a renewing or paused
    REST one), "classic" (a renewing Standard one, with NVP credentials), else ""."""
    renewing = sub.state in (SubscriptionState.ACTIVE, SubscriptionState.SUSPENDED)
    if not sub.paypal_id or not renewing:
        return ""
    if is_rest(sub):
        return "rest"
    return "classic" if can_cancel_classic(sub) else ""


def cancel_by_admin(actor: User, sub: Subscription, reason: str, now: datetime) -> str:
    """Cancel at PayPal for an admin and audit it with `reason`; returns the kind. Raises
    ValueError when it cannot be done here, ApiError when PayPal refused or was not
    reached (nothing is audited then: nothing happened). The state changes only with
    PayPal's answer (REST: asked and applied at once) or message (Standard: its IPN)."""
    kind = admin_cancel_kind(sub)
    if kind == "rest":
        rest_cancel.cancel(sub, ADMIN_NOTE, now)
    elif kind == "classic":
        cancel_classic(sub, ADMIN_NOTE)
    else:
        raise ValueError("this subscription cannot be cancelled at PayPal from here")
    audit(
        actor,
        "cancel-at-paypal",
        "subscription",
        sub.id,
        now=now,
        reason=reason,
        details={"paypal_id": sub.paypal_id, "via": VIA[kind]},
    )
    return kind
