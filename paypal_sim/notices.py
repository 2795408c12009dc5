"""How the engine tells the merchant: IPN forms, signed webhook events, and the REST
subscription JSON those events (and the API) carry."""

from __future__ import annotations

from functools import partial
from typing import Any

from . import ipn_messages as ipn
from . import webhooks as wh
from .clock import SimClock
from .delivery import Outbox
from .formats import encode_form, money, rfc3339
from .state import Subscription, World
from .trials import trials_of


class Notices:
    """The engine's state, and the messages every part of it sends (base of `Sim`)."""

    world: World
    clock: SimClock
    outbox: Outbox
    signer: wh.Signer
    base_url: str

    def send_ipn(self, sub: Subscription, label: str, fields: ipn.Fields) -> None:
        acct = self.world.account
        body = encode_form(fields, acct.charset)
        headers = {
            "Content-Type": f"application/x-www-form-urlencoded; charset={acct.charset}",
            "User-Agent": "PayPal IPN ( https://www.paypal.com/ipn )",
        }
        self.outbox.enqueue("ipn", label, sub.notify_url or acct.notify_url, body, headers)

    def send_webhook(
        self, event_type: str, resource_type: str, resource: dict[str, Any], summary: str
    ) -> None:
        at = self.clock.now()
        hooks = [
            hook
            for hook in self.world.webhooks.values()
            if "*" in hook.event_types or event_type in hook.event_types
        ]
        # A webhook_* fault is the event's: every webhook's copy of it carries the fault.
        fault = self.outbox.take_event_fault() if hooks else None
        for hook in hooks:
            event = wh.envelope(event_type, resource_type, resource, summary, at, self.base_url)
            # Listed by /v1/notifications/webhooks-events whatever becomes of its delivery.
            self.world.events.append(event)
            body = wh.encode(event)
            self.outbox.enqueue(
                "webhook",
                event_type,
                hook.url,
                body,
                wh.headers_for(self.signer, self.base_url, hook.id, body, at),
                forge=partial(
                    wh.forge,
                    signer=self.signer,
                    base_url=self.base_url,
                    webhook_id=hook.id,
                    body=body,
                    at=at,
                ),
                fault=fault,
            )

    def _sub_event(self, sub: Subscription, event_type: str) -> None:
        self.send_webhook(
            event_type,
            "subscription",
            self.subscription_json(sub),
            f"Subscription {event_type.split('.')[-1].lower()}",
        )

    # -- REST representation -------------------------------------------------
    def subscription_json(self, sub: Subscription) -> dict[str, Any]:
        status_updated = sub.status_update_time or sub.create_time
        # Signup sets create_time and status_update_time on every subscription it makes.
        assert status_updated is not None
        updated = max(status_updated, sub.update_time or status_updated)
        data: dict[str, Any] = {
            "id": sub.id,
            "plan_id": sub.plan_id,
            "status": sub.status,
            "quantity": "1",
            "custom_id": sub.custom,
            "plan_overridden": False,
            "create_time": rfc3339(sub.create_time) if sub.create_time else None,
            "update_time": rfc3339(updated),
            "status_update_time": rfc3339(status_updated),
            "start_time": rfc3339(sub.start_time) if sub.start_time else None,
            "links": [
                {
                    "href": f"{self.base_url}/v1/billing/subscriptions/{sub.id}",
                    "rel": "self",
                    "method": "GET",
                }
            ],
        }
        if sub.status == "APPROVAL_PENDING":
            data["links"].insert(
                0,
                {
                    "href": f"{self.base_url}/webapps/billing/subscriptions"
                    f"?ba_token={sub.approval_token}",
                    "rel": "approve",
                    "method": "GET",
                },
            )
        if sub.payer_id:
            data["subscriber"] = {
                "email_address": sub.payer_email,
                "payer_id": sub.payer_id,
                "name": {"given_name": sub.first_name, "surname": sub.last_name},
            }
        if sub.status != "APPROVAL_PENDING":
            info: dict[str, Any] = {
                "outstanding_balance": {"currency_code": sub.currency, "value": "0.00"},
                "cycle_executions": _cycle_executions(sub),
                "failed_payments_count": sub.failed_payments,
            }
            if sub.last_payment:
                info["last_payment"] = {
                    "amount": {
                        "currency_code": sub.currency,
                        "value": money(sub.last_payment.amount),
                    },
                    "time": rfc3339(sub.last_payment.time),
                }
            if sub.next_billing and sub.status == "ACTIVE":
                info["next_billing_time"] = rfc3339(sub.next_billing)
            data["billing_info"] = info
        return data


def _cycle_executions(sub: Subscription) -> list[dict[str, Any]]:
    """TRIAL (if any) then REGULAR, as the plan lists them. A cycle counts as executed when it
    starts (that is when PayPal bills it), so the one trial cycle is done once billing began."""
    cycles: list[dict[str, Any]] = []
    for _trial in trials_of(sub):
        begun = int(sub.anchor is not None)
        cycles.append(
            {
                "tenure_type": "TRIAL",
                "sequence": len(cycles) + 1,
                "cycles_completed": begun,
                "cycles_remaining": 1 - begun,
                "current_pricing_scheme_version": 1,
                "total_cycles": 1,
            }
        )
    cycles.append(
        {
            "tenure_type": "REGULAR",
            "sequence": len(cycles) + 1,
            "cycles_completed": sub.cycles_completed,
            "cycles_remaining": max(sub.total_cycles - sub.cycles_completed, 0),
            "current_pricing_scheme_version": 1,
            "total_cycles": sub.total_cycles,
        }
    )
    return cycles
