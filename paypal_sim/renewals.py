"""Billing on the clock: renewal charges, failed charges and their retries, end of term."""

from __future__ import annotations

from datetime import datetime, timedelta

from . import ipn_messages as ipn
from . import webhooks as wh
from .clock import add_period
from .formats import new_id
from .notices import Notices
from .state import Subscription, Transaction

STANDARD_RETRY = timedelta(days=3)  # Payments Standard re-attempts after 3 days
REST_RETRY = timedelta(days=5)  # recurring profiles: "retried up to 3 times, 5 days apart"


class Renewals(Notices):
    """Charges the clock has made due, and what follows when they fail or the term ends."""

    def run_billing(self) -> int:
        """Charge every renewal and send every end-of-term that the clock has reached."""
        done = 0
        while True:
            now = self.clock.now()
            due = sorted(
                (
                    s
                    for s in self.world.subscriptions.values()
                    if (s.status == "ACTIVE" and s.next_billing and s.next_billing <= now)
                    or (s.eot_at and s.eot_at <= now)
                ),
                key=lambda s: min(t for t in (s.next_billing, s.eot_at) if t),
            )
            if not due:
                return done
            sub = due[0]
            if (
                sub.eot_at
                and sub.eot_at <= now
                and not (
                    sub.status == "ACTIVE" and sub.next_billing and sub.next_billing < sub.eot_at
                )
            ):
                self._end_of_term(sub, sub.eot_at)
            else:
                # `due` holds sub for a renewal (ACTIVE with next_billing <= now), or for an
                # end of term that a still-earlier next_billing precedes: either way it is set.
                assert sub.next_billing is not None
                self.charge(sub, sub.next_billing)
            done += 1

    def start_rest(self, sub: Subscription) -> None:
        """A REST subscription becomes ACTIVE: announce it, then bill (or begin the trial)."""
        now = self.clock.now()
        sub.status, sub.status_update_time = "ACTIVE", now
        self._sub_event(sub, "BILLING.SUBSCRIPTION.ACTIVATED")
        self.first_charge(sub, max(now, sub.start_time or now))

    def first_charge(self, sub: Subscription, now: datetime) -> None:
        """Lay out the trials (a paid one is charged as it begins), then the cycles."""
        from .trials import schedule

        schedule(sub, now)
        if sub.next_billing is not None and sub.next_billing <= now:
            self.charge(sub, now)

    def charge(self, sub: Subscription, at: datetime) -> Transaction | None:
        if sub.fail_next > 0:
            sub.fail_next -= 1
            self._failed(sub, at)
            return None
        acct = self.world.account
        trial_bill = sub.trial_bills.pop(0) if sub.trial_bills else None
        amount = trial_bill[1] if trial_bill else sub.amount
        txn = Transaction(
            id=new_id(),
            subscription_id=sub.id,
            kind="payment",
            status="Completed",
            amount=amount,
            currency=sub.currency,
            fee=ipn.fee_for(acct, amount),
            time=at,
            custom=sub.custom,
            item_name=sub.item_name,
            item_number=sub.item_number,
            payer_email=sub.payer_email,
            payer_name=f"{sub.first_name} {sub.last_name}".strip(),
        )
        self.world.transactions[txn.id] = txn
        sub.last_payment, sub.failed_payments = txn, 0
        if trial_bill is not None:  # a paid trial: the next trial's charge, or the cycles
            sub.next_billing = sub.trial_bills[0][0] if sub.trial_bills else sub.anchor
        else:
            sub.cycles_completed += 1
            sub.next_billing = add_period(
                sub.anchor or at, sub.period_count * sub.cycles_completed, sub.period_unit
            )
        if sub.total_cycles and sub.cycles_completed >= sub.total_cycles:
            sub.eot_at, sub.next_billing = sub.next_billing, None
        if sub.style == "rest":
            self.send_webhook(
                "PAYMENT.SALE.COMPLETED",
                "sale",
                wh.sale_resource(txn, sub, self.base_url),
                f"Payment completed for {txn.amount} {txn.currency}",
            )
            if not acct.rest_ipn:
                return txn
            # Both channels on: the same charge is also a recurring_payment IPN (same txn_id).
        if sub.style == "rest" or sub.ipn_style == "recurring":
            self.send_ipn(
                sub, "recurring_payment", ipn.recurring(acct, sub, "recurring_payment", at, txn)
            )
        else:
            self.send_ipn(sub, "subscr_payment Completed", ipn.payment(acct, sub, txn))
        return txn

    def _failed(self, sub: Subscription, at: datetime) -> None:
        acct = self.world.account
        sub.failed_payments += 1
        final = not sub.reattempt or sub.failed_payments >= sub.failure_threshold
        retry = at + (REST_RETRY if sub.style == "rest" else STANDARD_RETRY)
        recurring_style = sub.ipn_style == "recurring"
        if sub.style == "rest":
            self._sub_event(sub, "BILLING.SUBSCRIPTION.PAYMENT.FAILED")
        elif recurring_style:
            kind = (
                "recurring_payment_skipped"
                if sub.failed_payments == 1
                else "recurring_payment_failed"
            )
            if not final:
                self.send_ipn(sub, kind, ipn.recurring(acct, sub, kind, at))
        else:
            self.send_ipn(sub, "subscr_failed", ipn.failed(acct, sub, at, None if final else retry))
        if not final:
            sub.next_billing = retry
            return
        # Too many failures: PayPal stops the subscription at once.
        sub.next_billing, sub.status_update_time = None, at
        if sub.style == "rest":
            sub.status = "SUSPENDED"
            self._sub_event(sub, "BILLING.SUBSCRIPTION.SUSPENDED")
        elif recurring_style:
            sub.status = "SUSPENDED"
            kind = "recurring_payment_suspended_due_to_max_failed_payment"
            self.send_ipn(sub, kind, ipn.recurring(acct, sub, kind, at))
        else:
            sub.status = "CANCELLED"
            self._end_of_term(sub, at)

    def _end_of_term(self, sub: Subscription, at: datetime) -> None:
        sub.eot_at = None
        if sub.status == "ACTIVE":
            sub.status = "EXPIRED"
        sub.status_update_time = at
        if sub.style == "rest":
            if sub.status == "EXPIRED":
                self._sub_event(sub, "BILLING.SUBSCRIPTION.EXPIRED")
        elif sub.ipn_style == "recurring":
            self.send_ipn(
                sub,
                "recurring_payment_expired",
                ipn.recurring(self.world.account, sub, "recurring_payment_expired", at),
            )
        else:
            self.send_ipn(
                sub, "subscr_eot", ipn.subscription_event(self.world.account, sub, "subscr_eot", at)
            )
