"""A requests session against the PayPal stand-in, with helpers for its control API."""

from __future__ import annotations

import html
import re

import requests


class SimSession:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self._token: str | None = None

    def url(self, path: str) -> str:
        return self.base + path

    def token(self) -> str:
        if self._token is None:
            r = self.http.post(
                self.url("/v1/oauth2/token"),
                auth=("sim-client-id", "sim-client-secret"),
                data={"grant_type": "client_credentials"},
                timeout=5,
            )
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

    def subscribe_standard(self, custom: str = "tok-1", ipn_style: str = "subscr", **extra) -> str:
        """Walk the subscribe button -> approve page -> return; returns the subscription id."""
        fields = {
            "cmd": "_xclick-subscriptions",
            "business": "merchant@example.com",
            "item_name": "Premium monthly",
            "item_number": "premium-monthly",
            "a3": "9.00",
            "p3": "1",
            "t3": "M",
            "src": "1",
            "sra": "1",
            "custom": custom,
            "return": "http://merchant.invalid/return",
            "cancel_return": "http://merchant.invalid/cancel",
            "charset": "utf-8",
            **extra,
        }
        page = self.http.post(self.url("/cgi-bin/webscr"), data=fields, timeout=5)
        assert page.status_code == 200, page.text
        hidden = dict(re.findall(r'name="(f_[a-z0-9_]+)" value="([^"]*)"', page.text))
        hidden = {k: html.unescape(v) for k, v in hidden.items()}
        r = self.http.post(
            self.url("/sim/checkout/standard"),
            allow_redirects=False,
            data={
                **hidden,
                "decision": "approve",
                "email": "buyer@example.com",
                "first_name": "José",
                "last_name": "Müller",
                "ipn_style": ipn_style,
            },
            timeout=5,
        )
        assert r.status_code == 303, r.text
        state = self.http.get(self.url("/sim/api/state"), timeout=5).json()
        return next(s["id"] for s in state["subscriptions"] if s["custom"] == custom)
