"""Merchant and buyer actions on a subscription: cancel, modify, suspend, activate (which
also starts a REST subscription the buyer left APPROVED), revise (a plan change)."""

from __future__ import annotations

from . import ipn_messages as ipn
from .formats import new_id
from .renewals import Renewals
from .signup import UNIT_OF
from .state import Plan, Refused, Subscription


class Lifecycle(Renewals):
    """Status changes asked for by the merchant (API, control page) or the buyer."""

    def cancel(self, sub: Subscription, reason: str = "") -> None:
        if sub.status not in ("ACTIVE", "SUSPENDED", "APPROVAL_PENDING", "APPROVED"):
            raise Refused(f"subscription is {sub.status}")
        now = self.clock.now()
        paid_until = sub.next_billing
        sub.status, sub.status_update_time, sub.next_billing = "CANCELLED", now, None
        if sub.style == "rest":
            self._sub_event(sub, "BILLING.SUBSCRIPTION.CANCELLED")
            return
        acct = self.world.account
        if sub.ipn_style == "recurring":
            self.send_ipn(
                sub,
                "recurring_payment_profile_cancel",
                ipn.recurring(acct, sub, "recurring_payment_profile_cancel", now),
            )
        else:
            self.send_ipn(
                sub, "subscr_cancel", ipn.subscription_event(acct, sub, "subscr_cancel", now)
            )
            sub.eot_at = paid_until or now  # end of term comes when the paid period ends

    def modify(self, sub: Subscription) -> None:
        """Announce a modification (Standard only; the terms stay as they are)."""
        if sub.style != "standard":
            raise Refused("subscr_modify exists only for Standard subscriptions")
        self.send_ipn(
            sub,
            "subscr_modify",
            ipn.subscription_event(self.world.account, sub, "subscr_modify", self.clock.now()),
        )

    def suspend(self, sub: Subscription) -> None:
        if sub.status != "ACTIVE":
            raise Refused(f"subscription is {sub.status}, not ACTIVE")
        now = self.clock.now()
        sub.status, sub.status_update_time = "SUSPENDED", now
        if sub.style == "rest":
            self._sub_event(sub, "BILLING.SUBSCRIPTION.SUSPENDED")
        else:
            self.send_ipn(
                sub,
                "recurring_payment_suspended",
                ipn.recurring(self.world.account, sub, "recurring_payment_suspended", now),
            )

    def activate(self, sub: Subscription) -> None:
        """Resume a SUSPENDED subscription, or start one the buyer left APPROVED."""
        if sub.status == "APPROVED":
            self.start_rest(sub)
            return
        if sub.status != "SUSPENDED":
            raise Refused(f"subscription is {sub.status}, not SUSPENDED or APPROVED")
        now = self.clock.now()
        sub.status, sub.status_update_time = "ACTIVE", now
        if sub.next_billing is None or sub.next_billing < now:
            sub.next_billing = now
        if sub.style == "rest":
            # PayPal's webhook list names ACTIVATED for the activate call, resumes included
            # (RE-ACTIVATED is in SDK constants but not in that list).
            self._sub_event(sub, "BILLING.SUBSCRIPTION.ACTIVATED")

    def revise(self, sub: Subscription, plan: Plan, return_url: str, cancel_url: str) -> bool:
        """Move a REST subscription to another plan; True if the buyer must approve first.

        A plan at the same price and period is applied at once. Another amount needs the
        buyer's consent at PayPal (the approve link); the new price is charged from the
        next billing date, as PayPal does (no proration).
        """
        if sub.style != "rest" or sub.status not in ("ACTIVE", "SUSPENDED"):
            raise Refused(f"subscription is {sub.status}, not ACTIVE or SUSPENDED")
        if plan.currency != sub.currency:
            raise Refused("the new plan's currency differs from the subscription's")
        same = (plan.price, plan.interval_count, UNIT_OF[plan.interval_unit]) == (
            sub.amount,
            sub.period_count,
            sub.period_unit,
        )
        if same:
            self._switch_plan(sub, plan)
            return False
        sub.revise_plan_id, sub.revise_token = plan.id, new_id("BA-", 17)
        sub.revise_return_url, sub.revise_cancel_url = return_url, cancel_url
        return True

    def approve_revise(self, sub: Subscription) -> None:
        """The buyer agreed to the revised plan at PayPal."""
        plan = self.world.plans.get(sub.revise_plan_id)
        if plan is None or sub.status not in ("ACTIVE", "SUSPENDED"):
            raise Refused("no plan change waits for approval")
        self._switch_plan(sub, plan)

    def _switch_plan(self, sub: Subscription, plan: Plan) -> None:
        sub.plan_id, sub.item_name, sub.item_number = plan.id, plan.name, plan.id
        sub.amount, sub.period_count = plan.price, plan.interval_count
        sub.period_unit = UNIT_OF[plan.interval_unit]
        sub.failure_threshold = plan.payment_failure_threshold
        sub.revise_plan_id = sub.revise_token = ""
        sub.update_time = self.clock.now()
        self._sub_event(sub, "BILLING.SUBSCRIPTION.UPDATED")
