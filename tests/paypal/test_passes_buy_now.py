"""Passes bought with a Standard Buy Now button against the stand-in over real HTTP: the
web_accept IPN opens the pass, refunds and reversals close it, a cancelled reversal
restores it, a tampered amount grants nothing, buying again extends, lifetime has no end."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.billing.rules.timetext import LIFETIME_END
from models import OutboxMail
from tests.paypal.passes_helpers import buy_now, flags, pass_plan, passes_of, payments_of


@pytest.fixture
def standard(live, app):
    app.config["PASS_CHECKOUT"] = "standard"
    return live


def test_buy_now_opens_a_pass_and_a_refund_closes_it(
    standard, client, login_as, member, make_plan, db
):
    """Does a web_accept IPN open a 30-day pass at once, and its refund close it?"""
    plan = pass_plan(make_plan)
    buy_now(standard, client, login_as, member, plan.code)
    assert client.get("/premium").status_code == 403  # nothing before PayPal's word
    standard.settle()
    (sub,) = passes_of(db, member)
    (pay,) = payments_of(db, sub)
    assert sub.state == "active" and sub.paypal_id == pay.txn_id
    assert sub.paid_through == pay.paid_at + timedelta(days=30) == sub.access_until
    assert sub.grace_until is None and not sub.renews
    assert client.get("/premium").status_code == 200
    account = client.get("/account").data.decode()
    assert f"ends on {sub.paid_through:%d %b %Y}" in account and "Renews on" not in account
    welcome = db.session.scalar(select(OutboxMail).where(OutboxMail.subject.like("Welcome%")))
    assert welcome is not None and "a pass does not renew" in welcome.text_body
    assert "PayPal will charge" not in welcome.text_body + welcome.html_body

    standard.paypal.control(f"transactions/{pay.txn_id}/refund")
    standard.settle()
    (sub,) = passes_of(db, member)
    assert sub.state == "refunded" and sub.access_until is None
    assert client.get("/premium").status_code == 403


def test_a_tampered_amount_grants_nothing(standard, client, login_as, member, make_plan, db):
    """Is a Buy Now paid at a price the buyer edited flagged, with no access?"""
    plan = pass_plan(make_plan)
    buy_now(standard, client, login_as, member, plan.code, amount="0.50")
    standard.settle()
    assert [f.message for f in flags(db, "amount")]
    assert "0.50" in flags(db, "amount")[0].message
    assert all(s.access_until is None for s in passes_of(db, member))
    assert client.get("/premium").status_code == 403
    # A second copy of the button for twice the quantity is caught the same way.
    buy_now(standard, client, login_as, member, plan.code, quantity="2")
    standard.settle()
    assert len(flags(db, "amount")) == 2
    assert client.get("/premium").status_code == 403


def test_reversal_closes_and_cancelled_reversal_restores(
    standard, client, login_as, member, make_plan, db
):
    """Does a chargeback close the pass and a won dispute (Canceled_Reversal) reopen it?"""
    plan = pass_plan(make_plan)
    buy_now(standard, client, login_as, member, plan.code)
    standard.settle()
    (sub,) = passes_of(db, member)
    (pay,) = payments_of(db, sub)
    until = sub.access_until
    standard.paypal.control(f"transactions/{pay.txn_id}/reverse")
    standard.settle()
    assert passes_of(db, member)[0].state == "charged_back"
    assert client.get("/premium").status_code == 403
    standard.paypal.control(f"transactions/{pay.txn_id}/cancel-reversal")
    standard.settle()
    (sub,) = passes_of(db, member)
    assert sub.state == "active" and sub.access_until == until
    assert client.get("/premium").status_code == 200


def test_a_partial_refund_keeps_the_pass(standard, client, login_as, member, make_plan, db):
    """Like a subscription's payment, is a pass kept until its refunds add up to it?"""
    plan = pass_plan(make_plan)
    buy_now(standard, client, login_as, member, plan.code)
    standard.settle()
    (pay,) = payments_of(db, passes_of(db, member)[0])
    standard.paypal.control(f"transactions/{pay.txn_id}/refund", amount="5.00")
    standard.settle()
    assert passes_of(db, member)[0].state == "active"
    assert client.get("/premium").status_code == 200
    standard.paypal.control(f"transactions/{pay.txn_id}/refund", amount="15.00")
    standard.settle()
    assert passes_of(db, member)[0].state == "refunded"
    assert client.get("/premium").status_code == 403


def test_buying_again_extends_from_the_current_end(
    standard, client, login_as, member, make_plan, db
):
    """Does a second purchase before the end add its term after the end, on the same pass,
    and one after a lapse start at its own time?"""
    plan = pass_plan(make_plan)
    buy_now(standard, client, login_as, member, plan.code)
    standard.settle()
    first_end = passes_of(db, member)[0].paid_through
    assert first_end is not None
    standard.advance(days=10)
    buy_now(standard, client, login_as, member, plan.code)
    standard.settle()
    (sub,) = passes_of(db, member)
    assert len(payments_of(db, sub)) == 2
    assert sub.paid_through == first_end + timedelta(days=30)
    standard.advance(days=60)  # both terms over
    assert client.get("/premium").status_code == 403
    buy_now(standard, client, login_as, member, plan.code)
    standard.settle()
    (sub,) = passes_of(db, member)
    third = payments_of(db, sub)[-1]
    assert sub.paid_through == third.paid_at + timedelta(days=30)
    assert client.get("/premium").status_code == 200
    # Refunding the middle purchase gives back its term only.
    standard.paypal.control(f"transactions/{payments_of(db, sub)[1].txn_id}/refund")
    standard.settle()
    assert passes_of(db, member)[0].paid_through == third.paid_at + timedelta(days=30)


def test_a_pending_echeck_opens_the_pass_once_it_clears(
    standard, client, login_as, member, make_plan, db, sim
):
    """Does a Pending web_accept wait, and the Completed one with the same txn_id open it?"""
    plan = pass_plan(make_plan)
    buy_now(standard, client, login_as, member, plan.code, echeck=True)
    standard.settle()
    (sub,) = passes_of(db, member)
    assert sub.access_until is None and client.get("/premium").status_code == 403
    (purchase,) = standard.paypal.http.get(standard.paypal.url("/sim/api/purchases")).json()
    standard.paypal.control(f"purchases/{purchase['id']}/clear")
    standard.settle()
    (sub,) = passes_of(db, member)
    assert sub.state == "active" and client.get("/premium").status_code == 200


def test_a_lifetime_pass_never_ends(standard, client, login_as, member, make_plan, db):
    """Is a lifetime pass paid through the end of time, shown as "lifetime", and closed by
    its refund?"""
    plan = pass_plan(make_plan, "lifetime", lifetime=True, price="99.00")
    buy_now(standard, client, login_as, member, plan.code)
    standard.settle()
    (sub,) = passes_of(db, member)
    assert sub.access_until == LIFETIME_END
    standard.advance(days=3650)
    assert client.get("/premium").status_code == 200
    assert "lifetime" in client.get("/account").data.decode()
    welcome = db.session.scalar(select(OutboxMail).where(OutboxMail.subject.like("Welcome%")))
    assert welcome is not None and "open for life" in welcome.text_body
    (pay,) = payments_of(db, sub)
    standard.paypal.control(f"transactions/{pay.txn_id}/refund")
    standard.settle()
    assert client.get("/premium").status_code == 403


def test_a_subscribe_button_turned_into_buy_now_grants_nothing(
    standard, client, login_as, member, premium, db
):
    """Is a one-time payment carrying a subscription checkout's token (the subscribe button
    edited into a Buy Now) flagged, with no access?"""
    login_as(member)
    page = client.post(f"/checkout/subscribe/{premium.code}").data.decode()
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    button = {
        "cmd": "_xclick",
        "business": fields["business"],
        "item_name": "Premium",
        "item_number": premium.code,
        "amount": "9.00",
        "currency_code": "USD",
        "custom": fields["custom"],
        "notify_url": fields["notify_url"],
        "return": fields["return"],
    }
    pay = standard.paypal.http.post(standard.paypal.url("/cgi-bin/webscr"), data=button, timeout=5)
    assert pay.status_code == 200, pay.text
    back = standard.paypal.http.post(
        standard.paypal.url("/sim/checkout/buynow"),
        data={f"f_{k}": v for k, v in button.items()} | {"decision": "approve"},
        allow_redirects=False,
        timeout=5,
    )
    assert back.status_code == 303
    standard.settle()
    (flag,) = flags(db, "terms")
    assert "which is a subscription, not a pass" in flag.message
    assert passes_of(db, member) == []
    assert client.get("/premium").status_code == 403
    assert client.post(f"/passes/buy/{premium.code}").status_code == 404  # not a pass
