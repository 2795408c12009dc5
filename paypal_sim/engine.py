"""What PayPal does: subscriptions start, renew on the clock, fail, cancel, refund, reverse,
and every change is announced by IPN (Standard) or signed webhook (REST)."""
from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Optional

from . import ipn_messages as ipn
from . import webhooks as wh
from .clock import SimClock
from .delivery import Outbox
from .formats import encode_form, money, new_id, rfc3339
from .state import Plan, Refused, Subscription, Transaction, World

STANDARD_RETRY = timedelta(days=3)   # Payments Standard re-attempts after 3 days
REST_RETRY = timedelta(days=5)       # recurring profiles: "retried up to 3 times, 5 days apart"
UNIT_OF = {"DAY": "D", "WEEK": "W", "MONTH": "M", "YEAR": "Y"}


def add_period(start: datetime, count: int, unit: str) -> datetime:
    if unit == "D":
        return start + timedelta(days=count)
    if unit == "W":
        return start + timedelta(weeks=count)
    months = count * (12 if unit == "Y" else 1)
    total = start.month - 1 + months
    year, month = start.year + total // 12, total % 12 + 1
    return start.replace(year=year, month=month,
                         day=min(start.day, calendar.monthrange(year, month)[1]))


class Sim:
    """The stand-in's engine: a world, a clock, an outbox and a signing key."""

    def __init__(self, clock: SimClock, outbox: Outbox, signer: wh.Signer, base_url: str) -> None:
        self.world = World()
        self.clock, self.outbox, self.signer = clock, outbox, signer
        self.base_url = base_url.rstrip("/")

    # -- messages ------------------------------------------------------------
    def send_ipn(self, sub: Subscription, label: str, fields: ipn.Fields) -> None:
        acct = self.world.account
        body = encode_form(fields, acct.charset)
        headers = {"Content-Type": f"application/x-www-form-urlencoded; charset={acct.charset}",
                   "User-Agent": "PayPal IPN ( https://www.paypal.com/ipn )"}
        self.outbox.enqueue("ipn", label, sub.notify_url or acct.notify_url, body, headers)

    def send_webhook(self, event_type: str, resource_type: str, resource: dict[str, Any],
                     summary: str) -> None:
        at = self.clock.now()
        for hook in list(self.world.webhooks.values()):
            if "*" not in hook.event_types and event_type not in hook.event_types:
                continue
            event = wh.envelope(event_type, resource_type, resource, summary, at, self.base_url)
            body = wh.encode(event)
            self.outbox.enqueue("webhook", event_type, hook.url, body,
                                wh.headers_for(self.signer, self.base_url, hook.id, body, at))

    def _sub_event(self, sub: Subscription, event_type: str) -> None:
        self.send_webhook(event_type, "subscription", self.subscription_json(sub),
                          f"Subscription {event_type.split('.')[-1].lower()}")

    # -- starting ------------------------------------------------------------
    def start_standard(self, form: dict[str, str], payer: dict[str, str],
                       ipn_style: str = "subscr") -> Subscription:
        """A buyer approved a PayPal Standard subscribe button."""
        now = self.clock.now()
        p3, t3 = int(form["p3"]), form["t3"].upper()
        sub = Subscription(
            id=self.world.new_subscription_id(), style="standard", status="ACTIVE",
            item_name=form.get("item_name", ""), item_number=form.get("item_number", ""),
            amount=Decimal(form["a3"]), currency=form.get("currency_code", "USD"),
            period_count=p3, period_unit=t3, custom=form.get("custom", ""),
            notify_url=form.get("notify_url", ""), return_url=form.get("return", ""),
            cancel_url=form.get("cancel_return", ""),
            total_cycles=int(form["srt"]) if form.get("src") == "1" and form.get("srt") else
            (0 if form.get("src") == "1" else 1),
            reattempt=form.get("sra", "1") == "1", create_time=now, start_time=now,
            status_update_time=now, ipn_style=ipn_style, **_payer_fields(payer))
        if form.get("a1") is not None and form.get("p1") and form.get("t1"):
            sub.trial_amount = Decimal(form["a1"])
            sub.trial_count, sub.trial_unit = int(form["p1"]), form["t1"].upper()
        self.world.subscriptions[sub.id] = sub
        if ipn_style == "recurring":
            self.send_ipn(sub, "recurring_payment_profile_created",
                          ipn.recurring(self.world.account, sub,
                                        "recurring_payment_profile_created", now))
        else:
            self.send_ipn(sub, "subscr_signup",
                          ipn.subscription_event(self.world.account, sub, "subscr_signup", now))
        self._first_charge(sub, now)
        return sub

    def create_rest(self, plan: Plan, custom_id: str, return_url: str, cancel_url: str,
                    subscriber: dict[str, Any], start_time: Optional[datetime]) -> Subscription:
        now = self.clock.now()
        sub = Subscription(
            id=self.world.new_subscription_id(), style="rest", status="APPROVAL_PENDING",
            item_name=plan.name, item_number=plan.id, amount=plan.price, currency=plan.currency,
            period_count=plan.interval_count, period_unit=UNIT_OF[plan.interval_unit],
            custom=custom_id, return_url=return_url, cancel_url=cancel_url, plan_id=plan.id,
            total_cycles=plan.total_cycles, failure_threshold=plan.payment_failure_threshold,
            approval_token=new_id("BA-", 17), create_time=now, start_time=start_time or now,
            status_update_time=now,
            payer_email=(subscriber or {}).get("email_address", ""))
        if plan.trial_unit and plan.trial_count:
            sub.trial_amount, sub.trial_count = Decimal(0), plan.trial_count
            sub.trial_unit = UNIT_OF[plan.trial_unit]
        self.world.subscriptions[sub.id] = sub
        self._sub_event(sub, "BILLING.SUBSCRIPTION.CREATED")
        return sub

    def approve_rest(self, sub: Subscription, payer: dict[str, str]) -> None:
        if sub.status != "APPROVAL_PENDING":
            raise Refused(f"subscription is {sub.status}, not APPROVAL_PENDING")
        now = self.clock.now()
        for k, v in _payer_fields(payer).items():
            if v:
                setattr(sub, k, v)
        sub.status, sub.status_update_time = "ACTIVE", now
        self._sub_event(sub, "BILLING.SUBSCRIPTION.ACTIVATED")
        self._first_charge(sub, max(now, sub.start_time or now))

    def _first_charge(self, sub: Subscription, now: datetime) -> None:
        if sub.trial_count and sub.trial_unit:
            sub.anchor = add_period(now, sub.trial_count, sub.trial_unit)
            sub.next_billing = sub.anchor
        else:
            sub.anchor = now
            sub.next_billing = now
            self.charge(sub, now)

    # -- renewals ------------------------------------------------------------
    def run_billing(self) -> int:
        """Charge every renewal and send every end-of-term that the clock has reached."""
        done = 0
        while True:
            now = self.clock.now()
            due = sorted((s for s in self.world.subscriptions.values()
                          if (s.status == "ACTIVE" and s.next_billing and s.next_billing <= now)
                          or (s.eot_at and s.eot_at <= now)),
                         key=lambda s: min(t for t in (s.next_billing, s.eot_at) if t))
            if not due:
                return done
            sub = due[0]
            if sub.eot_at and sub.eot_at <= now and not (
                    sub.status == "ACTIVE" and sub.next_billing and sub.next_billing < sub.eot_at):
                self._end_of_term(sub, sub.eot_at)
            else:
                self.charge(sub, sub.next_billing)
            done += 1

    def charge(self, sub: Subscription, at: datetime) -> Optional[Transaction]:
        if sub.fail_next > 0:
            sub.fail_next -= 1
            self._failed(sub, at)
            return None
        acct = self.world.account
        txn = Transaction(id=new_id(), subscription_id=sub.id, kind="payment",
                          status="Completed", amount=sub.amount, currency=sub.currency,
                          fee=ipn.fee_for(acct, sub.amount), time=at, custom=sub.custom,
                          item_name=sub.item_name, item_number=sub.item_number,
                          payer_email=sub.payer_email,
                          payer_name=f"{sub.first_name} {sub.last_name}".strip())
        self.world.transactions[txn.id] = txn
        sub.last_payment, sub.failed_payments = txn, 0
        sub.cycles_completed += 1
        sub.next_billing = add_period(sub.anchor or at, sub.period_count * sub.cycles_completed,
                                      sub.period_unit)
        if sub.total_cycles and sub.cycles_completed >= sub.total_cycles:
            sub.eot_at, sub.next_billing = sub.next_billing, None
        if sub.style == "rest":
            self.send_webhook("PAYMENT.SALE.COMPLETED", "sale",
                              wh.sale_resource(txn, sub, self.base_url),
                              f"Payment completed for {txn.amount} {txn.currency}")
        elif sub.ipn_style == "recurring":
            self.send_ipn(sub, "recurring_payment",
                          ipn.recurring(acct, sub, "recurring_payment", at, txn))
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
            kind = "recurring_payment_skipped" if sub.failed_payments == 1 else "recurring_payment_failed"
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
            self.send_ipn(sub, "recurring_payment_expired",
                          ipn.recurring(self.world.account, sub, "recurring_payment_expired", at))
        else:
            self.send_ipn(sub, "subscr_eot",
                          ipn.subscription_event(self.world.account, sub, "subscr_eot", at))

    # -- merchant / buyer actions ----------------------------------------------
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
            self.send_ipn(sub, "recurring_payment_profile_cancel",
                          ipn.recurring(acct, sub, "recurring_payment_profile_cancel", now))
        else:
            self.send_ipn(sub, "subscr_cancel",
                          ipn.subscription_event(acct, sub, "subscr_cancel", now))
            sub.eot_at = paid_until or now    # end of term comes when the paid period ends

    def modify(self, sub: Subscription) -> None:
        """Announce a modification (Standard only; the terms stay as they are)."""
        if sub.style != "standard":
            raise Refused("subscr_modify exists only for Standard subscriptions")
        self.send_ipn(sub, "subscr_modify", ipn.subscription_event(
            self.world.account, sub, "subscr_modify", self.clock.now()))

    def suspend(self, sub: Subscription) -> None:
        if sub.status != "ACTIVE":
            raise Refused(f"subscription is {sub.status}, not ACTIVE")
        now = self.clock.now()
        sub.status, sub.status_update_time = "SUSPENDED", now
        if sub.style == "rest":
            self._sub_event(sub, "BILLING.SUBSCRIPTION.SUSPENDED")
        else:
            self.send_ipn(sub, "recurring_payment_suspended",
                          ipn.recurring(self.world.account, sub, "recurring_payment_suspended", now))

    def activate(self, sub: Subscription) -> None:
        if sub.status != "SUSPENDED":
            raise Refused(f"subscription is {sub.status}, not SUSPENDED")
        now = self.clock.now()
        sub.status, sub.status_update_time = "ACTIVE", now
        if sub.next_billing is None or sub.next_billing < now:
            sub.next_billing = now
        if sub.style == "rest":
            self._sub_event(sub, "BILLING.SUBSCRIPTION.RE-ACTIVATED")

    def refund(self, payment: Transaction, amount: Optional[Decimal] = None) -> Transaction:
        if payment.kind != "payment":
            raise Refused("only payments can be refunded")
        if payment.status == "Reversed":
            raise Refused("a reversed payment cannot be refunded")
        already = -sum((t.amount for t in self.world.transactions.values()
                        if t.parent_id == payment.id and t.kind == "refund"), Decimal(0))
        amount = payment.amount - already if amount is None else amount
        if amount <= 0 or already + amount > payment.amount:
            raise Refused(f"refund of {amount} exceeds the {payment.amount - already} left")
        full = already + amount == payment.amount
        return self._money_back(payment, "refund", "Refunded", -amount,
                                "Refunded" if full else "Partially_Refunded",
                                "PAYMENT.SALE.REFUNDED")

    def reverse(self, payment: Transaction) -> Transaction:
        if payment.kind != "payment" or payment.status not in ("Completed", "Partially_Refunded"):
            raise Refused(f"payment is {payment.status}")
        return self._money_back(payment, "reversal", "Reversed", -payment.amount, "Reversed",
                                "PAYMENT.SALE.REVERSED")

    def cancel_reversal(self, payment: Transaction) -> Transaction:
        if payment.status != "Reversed":
            raise Refused("payment is not reversed")
        return self._money_back(payment, "reversal_cancel", "Canceled_Reversal", payment.amount,
                                "Completed", None)

    def _money_back(self, payment: Transaction, kind: str, status: str, amount: Decimal,
                    parent_status: str, event_type: Optional[str]) -> Transaction:
        sub = self.world.subscription(payment.subscription_id)
        now = self.clock.now()
        fee = Decimal(0) if kind != "reversal" else Decimal("20.00")
        txn = Transaction(id=new_id(), subscription_id=sub.id, kind=kind, status=status,
                          amount=amount, currency=payment.currency, fee=fee, time=now,
                          parent_id=payment.id, custom=payment.custom,
                          item_name=payment.item_name, item_number=payment.item_number,
                          payer_email=payment.payer_email, payer_name=payment.payer_name)
        self.world.transactions[txn.id] = txn
        payment.status, payment.updated = parent_status, now
        if sub.style == "rest":
            if event_type:
                self.send_webhook(event_type, "refund" if kind == "refund" else "sale",
                                  wh.sale_resource(txn, sub, self.base_url),
                                  f"{status} {abs(amount)} {txn.currency}")
        else:
            self.send_ipn(sub, f"payment {status}", ipn.money_back(self.world.account, sub, txn))
        return txn

    # -- REST representation -------------------------------------------------
    def subscription_json(self, sub: Subscription) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": sub.id, "plan_id": sub.plan_id, "status": sub.status, "quantity": "1",
            "custom_id": sub.custom, "plan_overridden": False,
            "create_time": rfc3339(sub.create_time) if sub.create_time else None,
            "update_time": rfc3339(sub.status_update_time or sub.create_time),
            "status_update_time": rfc3339(sub.status_update_time or sub.create_time),
            "start_time": rfc3339(sub.start_time) if sub.start_time else None,
            "links": [{"href": f"{self.base_url}/v1/billing/subscriptions/{sub.id}",
                       "rel": "self", "method": "GET"}]}
        if sub.status == "APPROVAL_PENDING":
            data["links"].insert(0, {
                "href": f"{self.base_url}/webapps/billing/subscriptions?ba_token={sub.approval_token}",
                "rel": "approve", "method": "GET"})
        if sub.payer_id:
            data["subscriber"] = {"email_address": sub.payer_email, "payer_id": sub.payer_id,
                                  "name": {"given_name": sub.first_name,
                                           "surname": sub.last_name}}
        if sub.status != "APPROVAL_PENDING":
            info: dict[str, Any] = {
                "outstanding_balance": {"currency_code": sub.currency, "value": "0.00"},
                "cycle_executions": [{"tenure_type": "REGULAR", "sequence": 1,
                                      "cycles_completed": sub.cycles_completed,
                                      "cycles_remaining": max(sub.total_cycles - sub.cycles_completed, 0),
                                      "total_cycles": sub.total_cycles}],
                "failed_payments_count": sub.failed_payments}
            if sub.last_payment:
                info["last_payment"] = {"amount": {"currency_code": sub.currency,
                                                   "value": money(sub.last_payment.amount)},
                                        "time": rfc3339(sub.last_payment.time)}
            if sub.next_billing and sub.status == "ACTIVE":
                info["next_billing_time"] = rfc3339(sub.next_billing)
            data["billing_info"] = info
        return data


def _payer_fields(payer: dict[str, str]) -> dict[str, str]:
    return {"payer_id": payer.get("payer_id") or new_id("", 13),
            "payer_email": payer.get("email", ""), "first_name": payer.get("first_name", ""),
            "last_name": payer.get("last_name", "")}
