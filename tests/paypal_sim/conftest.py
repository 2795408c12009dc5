"""The stand-in served on loopback, with a recording listener as the merchant."""
from __future__ import annotations

from datetime import datetime, timezone

import html
import re

import pytest
import requests

from paypal_sim import create_app
from paypal_sim.clock import SimClock
from tests.servers import Listener, serve

SIM_T0 = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def listener():
    lst = Listener()
    with serve(lst.app) as url:
        lst.url = url
        yield lst


@pytest.fixture
def sim_clock():
    return SimClock(frozen=SIM_T0)


@pytest.fixture
def sim_app(listener, sim_clock):
    app = create_app({"SIM_AUTO_DELIVER": False, "SIM_CLOCK": sim_clock,
                      "SIM_NOTIFY_URL": f"{listener.url}/ipn",
                      "SIM_WEBHOOK_URL": f"{listener.url}/webhook",
                      "SIM_REPORTING_LAG_MINUTES": 0, "SIM_DELIVERY_TIMEOUT": 5,
                      "SIM_PLANS": [{"id": "P-MONTHLY", "name": "Premium monthly",
                                     "price": "9.00", "interval_unit": "MONTH"}]})
    with serve(app) as url:
        app.extensions["paypal_sim"].base_url = url
        app.base_url = url
        yield app


@pytest.fixture
def sim(sim_app):
    return sim_app.extensions["paypal_sim"]


@pytest.fixture
def paypal(sim_app):
    """A requests session against the stand-in, with helpers."""
    return SimSession(sim_app.base_url)


class SimSession:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self._token = None

    def url(self, path: str) -> str:
        return self.base + path

    def token(self) -> str:
        if self._token is None:
            r = self.http.post(self.url("/v1/oauth2/token"),
                               auth=("sim-client-id", "sim-client-secret"),
                               data={"grant_type": "client_credentials"}, timeout=5)
            r.raise_for_status()
            self._token = r.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, **kw) -> requests.Response:
        """Call the API; a token that expired (the clock moves) is replaced once."""
        extra = kw.pop("headers", {})
        for _ in range(2):
            headers = {"Authorization": f"Bearer {self.token()}", **extra}
            r = self.http.request(method, self.url(path), headers=headers, timeout=10, **kw)
            if r.status_code != 401 or r.json().get("error") != "invalid_token":
                return r
            self._token = None
        return r

    def control(self, path: str, **payload) -> dict:
        r = self.http.post(self.url(f"/sim/api/{path}"), json=payload, timeout=30)
        assert r.status_code < 300, r.text
        return r.json()

    def deliver(self) -> int:
        return self.control("deliveries/run")["attempts"]

    def subscribe_standard(self, custom: str = "tok-1", ipn_style: str = "subscr",
                           **extra) -> str:
        """Walk the subscribe button -> approve page -> return; returns the subscription id."""
        fields = {"cmd": "_xclick-subscriptions", "business": "merchant@example.com",
                  "item_name": "Premium monthly", "item_number": "premium-monthly",
                  "a3": "9.00", "p3": "1", "t3": "M", "src": "1", "sra": "1",
                  "custom": custom, "return": "http://merchant.invalid/return",
                  "cancel_return": "http://merchant.invalid/cancel", "charset": "utf-8",
                  **extra}
        page = self.http.post(self.url("/cgi-bin/webscr"), data=fields, timeout=5)
        assert page.status_code == 200, page.text
        hidden = dict(re.findall(r'name="(f_[a-z0-9_]+)" value="([^"]*)"', page.text))
        hidden = {k: html.unescape(v) for k, v in hidden.items()}
        r = self.http.post(self.url("/sim/checkout/standard"), allow_redirects=False,
                           data={**hidden, "decision": "approve", "email": "buyer@example.com",
                                 "first_name": "José", "last_name": "Müller",
                                 "ipn_style": ipn_style},
                           timeout=5)
        assert r.status_code == 303, r.text
        state = self.http.get(self.url("/sim/api/state"), timeout=5).json()
        return next(s["id"] for s in state["subscriptions"] if s["custom"] == custom)
