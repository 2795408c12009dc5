"""Starting subscriptions: a Standard button's signup, a REST subscription's creation and
buyer approval, and the first charge (or trial) that follows."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict

from . import ipn_messages as ipn
from . import trials
from .formats import new_id
from .renewals import Renewals
from .state import Plan, Refused, Subscription


class PayerFields(TypedDict):
    """The buyer's details, named as the matching `Subscription` fields."""

    payer_id: str
    payer_email: str
    first_name: str
    last_name: str


UNIT_OF = {"DAY": "D", "WEEK": "W", "MONTH": "M", "YEAR": "Y"}
USER_ACTIONS = ("SUBSCRIBE_NOW", "CONTINUE")


def custom_id_problem(custom_id: str) -> str:
    """Why PayPal would refuse this custom_id, or "" if it is fine."""
    if len(custom_id) > 127 or any(not (32 <= ord(c) < 127) for c in custom_id):
        return "custom_id: at most 127 printable ASCII characters"
    return ""


class Signup(Renewals):
    """New subscriptions, Standard and REST; the first charge goes through `Renewals`."""

    def start_standard(
        self, form: dict[str, str], payer: dict[str, str], ipn_style: str = "subscr"
    ) -> Subscription:
        """A buyer approved a PayPal Standard subscribe button."""
        now = self.clock.now()
        p3, t3 = int(form["p3"]), form["t3"].upper()
        sub = Subscription(
            id=self.world.new_subscription_id(),
            style="standard",
            status="ACTIVE",
            item_name=form.get("item_name", ""),
            item_number=form.get("item_number", ""),
            amount=Decimal(form["a3"]),
            currency=form.get("currency_code", "USD"),
            period_count=p3,
            period_unit=t3,
            custom=form.get("custom", ""),
            notify_url=form.get("notify_url", ""),
            return_url=form.get("return", ""),
            cancel_url=form.get("cancel_return", ""),
            total_cycles=int(form["srt"])
            if form.get("src") == "1" and form.get("srt")
            else (0 if form.get("src") == "1" else 1),
            reattempt=form.get("sra", "1") == "1",
            create_time=now,
            start_time=now,
            status_update_time=now,
            ipn_style=ipn_style,
            **_payer_fields(payer),
        )
        trials.from_button(sub, form)
        self.world.subscriptions[sub.id] = sub
        if ipn_style == "recurring":
            self.send_ipn(
                sub,
                "recurring_payment_profile_created",
                ipn.recurring(self.world.account, sub, "recurring_payment_profile_created", now),
            )
        else:
            self.send_ipn(
                sub,
                "subscr_signup",
                ipn.subscription_event(self.world.account, sub, "subscr_signup", now),
            )
        self.first_charge(sub, now)
        return sub

    def create_rest(
        self,
        plan: Plan,
        custom_id: str,
        return_url: str,
        cancel_url: str,
        subscriber: dict[str, Any],
        start_time: datetime | None,
        user_action: str = "SUBSCRIBE_NOW",
    ) -> Subscription:
        now = self.clock.now()
        sub = Subscription(
            id=self.world.new_subscription_id(),
            style="rest",
            status="APPROVAL_PENDING",
            item_name=plan.name,
            item_number=plan.id,
            amount=plan.price,
            currency=plan.currency,
            period_count=plan.interval_count,
            period_unit=UNIT_OF[plan.interval_unit],
            custom=custom_id,
            return_url=return_url,
            cancel_url=cancel_url,
            plan_id=plan.id,
            total_cycles=plan.total_cycles,
            failure_threshold=plan.payment_failure_threshold,
            approval_token=new_id("BA-", 17),
            create_time=now,
            start_time=start_time or now,
            status_update_time=now,
            payer_email=(subscriber or {}).get("email_address", ""),
            user_action=user_action,
        )
        for n, (amount, count, unit) in enumerate(plan.trials[:2], start=1):
            prefix = "trial" if n == 1 else "trial2"
            setattr(sub, f"{prefix}_amount", amount)
            setattr(sub, f"{prefix}_count", count)
            setattr(sub, f"{prefix}_unit", unit)
        self.world.subscriptions[sub.id] = sub
        self._sub_event(sub, "BILLING.SUBSCRIPTION.CREATED")
        return sub

    def approve_rest(
        self, sub: Subscription, payer: dict[str, str], activate: bool | None = None
    ) -> None:
        """The buyer agreed. ACTIVE and billed at once, unless the subscription was created
        with user_action CONTINUE (or `activate` is False): then APPROVED, nothing billed,
        until the merchant activates it."""
        if sub.status != "APPROVAL_PENDING":
            raise Refused(f"subscription is {sub.status}, not APPROVAL_PENDING")
        now = self.clock.now()
        for k, v in _payer_fields(payer).items():
            if v:
                setattr(sub, k, v)
        if activate is None:
            activate = sub.user_action != "CONTINUE"
        if not activate:
            # PayPal has no webhook for this step; the merchant learns it from the API.
            sub.status, sub.status_update_time = "APPROVED", now
            return
        self.start_rest(sub)


def _payer_fields(payer: dict[str, str]) -> PayerFields:
    return {
        "payer_id": payer.get("payer_id") or new_id("", 13),
        "payer_email": payer.get("email", ""),
        "first_name": payer.get("first_name", ""),
        "last_name": payer.get("last_name", ""),
    }
