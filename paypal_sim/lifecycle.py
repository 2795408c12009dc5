"""Merchant and buyer actions on a subscription: cancel, modify, suspend, activate (which
also starts a REST subscription the buyer left APPROVED)."""

from __future__ import annotations

from . import ipn_messages as ipn
from .renewals import Renewals
from .state import Refused, Subscription


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
            self._sub_event(sub, "BILLING.SUBSCRIPTION.RE-ACTIVATED")
