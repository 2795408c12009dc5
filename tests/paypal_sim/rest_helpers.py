"""Helpers for the REST tests: a checkout through the control API, and what the listener got."""

from __future__ import annotations

import json


def rest_checkout(paypal, custom_id="chk-1", **extra) -> dict:
    r = paypal.http.post(
        paypal.url("/sim/api/rest/subscriptions"),
        json={"plan_id": "P-MONTHLY", "custom_id": custom_id, **extra},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    return r.json()


def received(paypal, listener, path="/webhook"):
    paypal.deliver()
    out = [r for r in listener.received if r.path == path]
    listener.received.clear()
    return out


def event_types(hooks) -> list[str]:
    return [json.loads(h.body)["event_type"] for h in hooks]
