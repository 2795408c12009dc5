"""Buying a pass against the stand-in, as a browser would: our Buy page, PayPal's page, the
way back (Buy Now), or the order's approve link and the return (Orders v2)."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from gateway.billing.rules.statuses import PlanKind
from models import Flag, Payment, Subscription


def buy_now(live, client, login_as, user, code: str, *, echeck: bool = False, **tamper) -> str:
    """Member clicks Buy (Standard): our button goes to PayPal, the buyer pays (with the
    button's fields changed by `tamper`, as a tampering buyer could). Returns the
    checkout token."""
    login_as(user)
    page = client.post(f"/passes/buy/{code}")
    assert page.status_code == 200, page.data
    text = page.data.decode()
    action = re.search(r'form id="paypal" method="post" action="([^"]+)"', text)
    assert action is not None, text
    fields = {
        k: html.unescape(v)
        for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', text)
    }
    assert fields["cmd"] == "_xclick"
    fields.update(tamper)
    pay = live.paypal.http.post(action.group(1), data=fields, timeout=5)
    assert pay.status_code == 200, pay.text
    hidden = {
        k: html.unescape(v)
        for k, v in re.findall(r'name="(f_[a-z0-9_]+)" value="([^"]*)"', pay.text)
    }
    back = live.paypal.http.post(
        live.paypal.url("/sim/checkout/buynow"),
        data={**hidden, "decision": "approve", "email": "buyer@example.com"}
        | ({"echeck": "1"} if echeck else {}),
        allow_redirects=False,
        timeout=5,
    )
    assert back.status_code == 303, back.text
    assert back.headers["Location"].startswith(f"{live.url}/checkout/return?cm=")
    return fields["custom"]


def start_order(live, client, login_as, user, code: str) -> str:
    """Member clicks Buy (Orders): we create the order; returns PayPal's approve URL."""
    login_as(user)
    page = client.post(f"/passes/buy/{code}")
    assert page.status_code == 303, page.data
    approve = page.headers["Location"]
    assert approve.startswith(live.paypal.base + "/checkoutnow?token=")
    return approve


def approve_order(live, approve_url: str) -> str:
    """The buyer approves at PayPal; returns where PayPal sends the browser back."""
    token = parse_qs(urlsplit(approve_url).query)["token"][0]
    back = live.paypal.http.post(
        live.paypal.url("/sim/checkout/order"),
        data={"token": token, "decision": "approve", "email": "buyer@example.com"},
        allow_redirects=False,
        timeout=5,
    )
    assert back.status_code == 303, back.text
    return back.headers["Location"]


def order_id_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def local(url: str, base: str) -> str:
    return url.replace(base, "")


def pass_plan(make_plan, code="month-pass", *, lifetime=False, **kw):
    return make_plan(
        code,
        role="premium",
        price=kw.pop("price", "20.00"),
        period_count=kw.pop("period_count", 30),
        period_unit=kw.pop("period_unit", "D"),
        kind=PlanKind.PASS,
        lifetime=lifetime,
        **kw,
    )


def passes_of(db, user) -> list[Subscription]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Subscription).where(Subscription.user_id == user.id).order_by(Subscription.id)
        )
    )


def payments_of(db, sub) -> list[Payment]:
    return list(
        db.session.scalars(
            select(Payment).where(Payment.subscription_id == sub.id).order_by(Payment.paid_at)
        )
    )


def flags(db, kind: str) -> list[Flag]:
    db.session.expire_all()
    return list(db.session.scalars(select(Flag).where(Flag.kind == kind)))
