"""REST checkout: the subscription is created by us at PayPal, and every return from
PayPal (the redirect, or the JS SDK's onApprove) is only a hint, checked with PayPal's
API before it links anything (docs/paypal.md §7, §8.1).

A subscription id in a browser can be anyone's: the checks are PayPal's own status, the
plan, our token in `custom_id`, and a unique claim in the database, so an id can be
claimed by one checkout only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NoReturn

from flask import abort, current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from models import Checkout, Plan, Subscription, db

from ..billing.rules.statuses import CheckoutFlow
from ..paypal.api import ApiError, api_client
from ..pipeline.worker import process_one
from ..records.flags import raise_flag
from . import rest_cancel
from .asking import ask

#: PayPal's statuses of a subscription the buyer has approved.
APPROVED = ("ACTIVE", "APPROVED")
MEMBER_REFUSAL = (
    "PayPal does not confirm this subscription for this checkout, so it gives no access. "
    "If you did subscribe, your access opens as soon as PayPal tells us; otherwise please "
    "start again from the plans page."
)


class Refused(Exception):
    """The return does not check out: no access, a clear word, and a flag."""

    def __init__(self, admin_message: str, member_message: str = MEMBER_REFUSAL) -> None:
        super().__init__(admin_message)
        self.member_message = member_message


class Unavailable(Exception):
    """PayPal could not be asked now; the job asks again later."""


def could_not_start(e: ApiError, refused: str, yours: str, now: datetime) -> NoReturn:
    """PayPal did not open an approval (a subscription, an order): 503, nothing charged.
    A refusal (not worth retrying) is a configuration problem an admin must see: flagged
    ("PayPal refused {refused}: ..."). `yours`: what the member was starting."""
    db.session.rollback()
    current_app.logger.warning("PayPal did not start %s: %s", refused, e.for_admin())
    if not e.retryable:
        raise_flag("api", f"PayPal refused {refused}: {e.for_admin()}", now)
        db.session.commit()
    abort(
        503,
        description=f"PayPal could not start your {yours} just now; nothing was charged. "
        "Please try again in a minute.",
    )


def uses_rest(plan: Plan) -> bool:
    return bool(plan.paypal_plan_id) and api_client().configured


def begin(checkout: Checkout, plan: Plan, public_url: str) -> str:
    """The approve link for this checkout's subscription at PayPal, created if needed.

    A checkout has one subscription at PayPal: a second click reuses the one awaiting
    approval (and PayPal-Request-Id makes a retried create return it too); one already
    approved sends the member to the waiting page instead of creating another.
    """
    assert plan.paypal_plan_id  # uses_rest(plan) was checked by the caller
    api = api_client()
    if checkout.paypal_subscription_id:
        current = api.get_subscription(checkout.paypal_subscription_id)
        if current.get("status") == "APPROVAL_PENDING" and _link(current, "approve"):
            return _link(current, "approve")
        if current.get("status") in APPROVED:
            return f"{public_url}/checkout/rest/{checkout.token}/waiting"
    answer = api.create_subscription(
        plan.paypal_plan_id,
        checkout.token,
        return_url=f"{public_url}/checkout/rest/return?cm={checkout.token}",
        cancel_url=f"{public_url}/checkout/cancelled?cm={checkout.token}",
        # A new key when the previous subscription was cancelled or expired at PayPal.
        request_id=f"tollgate-{checkout.token}-{checkout.paypal_subscription_id or 'first'}",
    )
    sub_id = str(answer.get("id", ""))
    approve = _link(answer, "approve")
    if not sub_id or not approve:
        raise ApiError("PayPal's answer has no subscription id or approve link")
    checkout.channel = CheckoutFlow.REST
    checkout.paypal_subscription_id = sub_id  # ours: we created it with our token
    return approve


def _link(answer: dict[str, Any], rel: str) -> str:
    for link in answer.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == rel:
            return str(link.get("href", ""))
    return ""


def confirm(checkout: Checkout, subscription_id: str, now: datetime) -> None:
    """Check a returned subscription id with PayPal; link it and apply what PayPal says.

    Raises Refused (flagged) or Unavailable. Safe to call again with the same id.
    """
    try:
        _check_and_claim(checkout, subscription_id, now)
    except Refused as e:
        db.session.rollback()
        raise_flag(
            "return",
            f"checkout {checkout.token} (member {checkout.user_id}, plan "
            f"{checkout.plan.code}): returned with subscription {subscription_id[:70]!r}: {e}",
            now,
        )
        checkout.problem = e.member_message
        db.session.commit()
        raise
    ids = _ask(checkout, subscription_id, now)
    for note_id in ids:  # apply now, so the member's waiting page opens at once
        process_one(note_id)
    try:  # a switch: the plan this one replaces stops renewing (else: the job's next run)
        rest_cancel.cancel_replaced(checkout.user_id, now)
    except ApiError as e:
        current_app.logger.warning("cancelling a replaced subscription failed: %s", e)


def _check_and_claim(checkout: Checkout, subscription_id: str, now: datetime) -> None:
    if checkout.paypal_subscription_id and checkout.paypal_subscription_id != subscription_id:
        raise Refused(
            f"this checkout belongs to subscription {checkout.paypal_subscription_id}, "
            "not the one returned"
        )
    try:
        found = api_client().get_subscription(subscription_id)
    except ApiError as e:
        if e.retryable:
            raise Unavailable(e.for_admin()) from e
        raise Refused(f"PayPal: {e.for_admin()}") from e
    status = str(found.get("status", ""))
    problems = []
    if status not in APPROVED:
        problems.append(f"status {status or 'none'}, not ACTIVE or APPROVED")
    if found.get("plan_id") != checkout.plan.paypal_plan_id:
        problems.append(
            f"plan {found.get('plan_id')!r}, not this checkout's {checkout.plan.paypal_plan_id!r}"
        )
    if found.get("custom_id") != checkout.token:
        problems.append("custom_id is not this checkout's token (another checkout's id)")
    if found.get("plan_overridden") is True:
        problems.append("the subscription overrides the plan's terms")
    if problems:
        raise Refused("; ".join(problems))
    owner = db.session.scalar(
        select(Subscription.user_id).where(Subscription.paypal_id == subscription_id)
    )
    if owner is not None and owner != checkout.user_id:
        raise Refused("the subscription already belongs to another member")
    claim(checkout, subscription_id, "subscription")


def claim(checkout: Checkout, paypal_id: str, what: str) -> None:
    """The checkout claims PayPal's object (a subscription, an Orders v2 order) and commits;
    one another checkout has claimed is refused (the unique paypal_subscription_id)."""
    try:
        with db.session.begin_nested():
            db.session.execute(
                update(Checkout)
                .where(Checkout.id == checkout.id)
                .values(paypal_subscription_id=paypal_id, channel=CheckoutFlow.REST)
            )
    except IntegrityError:
        raise Refused(f"another checkout has already claimed this {what}") from None
    db.session.commit()


def _ask(checkout: Checkout, subscription_id: str, now: datetime) -> list[int]:
    try:
        return ask(api_client(), subscription_id, checkout.created_at, now)
    except ApiError as e:
        current_app.logger.warning("asking PayPal about %s failed: %s", subscription_id, e)
        raise Unavailable(e.for_admin()) from e
