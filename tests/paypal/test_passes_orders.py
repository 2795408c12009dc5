"""Passes bought through Orders v2 against the stand-in over real HTTP: the server creates
the order, the buyer approves at PayPal, the return is checked with PayPal before the
capture, the capture's answer opens the pass at once, the signed PAYMENT.CAPTURE.* webhooks
agree with it, refunds and reversals close it; forged returns grant nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models import Checkout, Notification, SubscriptionFact
from tests.paypal.passes_helpers import (
    approve_order,
    flags,
    local,
    order_id_of,
    pass_plan,
    passes_of,
    payments_of,
    start_order,
)


@pytest.fixture
def orders(rest, app):
    """`rest` (webhook registered at the stand-in), passes sold through Orders v2."""
    app.config["PASS_CHECKOUT"] = "orders"
    return rest


def buy(orders, client, login_as, user, code: str) -> str:
    """The whole purchase; returns the order id."""
    back = approve_order(orders, start_order(orders, client, login_as, user, code))
    page = client.get(local(back, orders.url))
    assert page.status_code == 200 and b"Waiting for PayPal" in page.data, page.data
    return order_id_of(back)


def test_order_return_captures_and_opens_the_pass(orders, client, login_as, member, make_plan, db):
    """Create -> approve -> return -> capture: is the pass open before any webhook, and do
    the webhooks then add nothing new? Does the refund webhook close it?"""
    plan = pass_plan(make_plan)
    approve = start_order(orders, client, login_as, member, plan.code)
    assert client.get("/premium").status_code == 403
    back = approve_order(orders, approve)
    assert back.startswith(f"{orders.url}/passes/return?cm=")
    assert client.get(local(back, orders.url)).status_code == 200
    (sub,) = passes_of(db, member)
    (pay,) = payments_of(db, sub)
    assert sub.paypal_id == order_id_of(back) and sub.state == "active"
    assert sub.paid_through == pay.paid_at + timedelta(days=30)
    assert client.get("/premium").status_code == 200
    assert {n.channel for n in orders.notes()} == {"api"}
    facts = db.session.scalar(select(func.count()).select_from(SubscriptionFact))

    orders.settle()  # PAYMENT.CAPTURE.COMPLETED arrives, signed
    assert any(n.txn_type == "PAYMENT.CAPTURE.COMPLETED" for n in orders.notes())
    assert all(n.status == "processed" for n in orders.notes())
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(SubscriptionFact)) == facts

    # A second return with the same order (a reload) changes nothing.
    assert client.get(local(back, orders.url)).status_code == 200
    assert len(payments_of(db, passes_of(db, member)[0])) == 1

    refund = orders.paypal.api("POST", f"/v2/payments/captures/{pay.txn_id}/refund", json={})
    assert refund.status_code == 201, refund.text
    orders.settle()
    assert passes_of(db, member)[0].state == "refunded"
    assert client.get("/premium").status_code == 403


def test_a_reversal_webhook_closes_the_pass(orders, client, login_as, member, make_plan, db):
    """Does PAYMENT.CAPTURE.REVERSED take the pass away at once?"""
    plan = pass_plan(make_plan)
    buy(orders, client, login_as, member, plan.code)
    orders.settle()
    (pay,) = payments_of(db, passes_of(db, member)[0])
    orders.paypal.control(f"transactions/{pay.txn_id}/reverse")
    orders.settle()
    assert any(n.txn_type == "PAYMENT.CAPTURE.REVERSED" for n in orders.notes())
    assert passes_of(db, member)[0].state == "charged_back"
    assert client.get("/premium").status_code == 403


def test_buying_again_through_orders_extends(orders, client, login_as, member, make_plan, db):
    """Does a second order before the end extend the same pass from its end?"""
    plan = pass_plan(make_plan)
    buy(orders, client, login_as, member, plan.code)
    # The first capture's webhook arrives now: five days on, its transmission time would be
    # outside the live skew (PAYPAL_WEBHOOK_MAX_SKEW_HOURS) and it would be refused.
    orders.settle()
    first_end = passes_of(db, member)[0].paid_through
    assert first_end is not None
    orders.advance(days=5)
    second = buy(orders, client, login_as, member, plan.code)
    orders.settle()
    (sub,) = passes_of(db, member)
    assert sub.paypal_id != second  # the pass keeps its first order's id
    assert len(payments_of(db, sub)) == 2
    assert sub.paid_through == first_end + timedelta(days=30)
    assert all(n.status == "processed" for n in orders.notes()), [
        (n.txn_type, n.status, n.outcome) for n in orders.notes()
    ]


def test_forged_returns_grant_nothing(orders, client, login_as, member, make_user, make_plan, db):
    """Another member's order, an order not approved, an unknown id: is each refused with
    a flag, and nothing captured or granted?"""
    plan = pass_plan(make_plan)
    other = make_user("other@example.com")
    theirs = order_id_of(
        approve_order(orders, start_order(orders, client, login_as, other, plan.code))
    )
    not_approved = start_order(orders, client, login_as, member, plan.code)
    mine = db.session.scalar(
        select(Checkout).where(Checkout.user_id == member.id).order_by(Checkout.id.desc())
    )
    for order_id in (theirs, order_id_of(not_approved), "5O190127TN364715T", "../../x"):
        page = client.get(f"/passes/return?cm={mine.token}&token={order_id}")
        assert page.status_code == 409, (order_id, page.data)
    assert len(flags(db, "return")) == 4
    assert "custom_id is not this checkout's token" in flags(db, "return")[0].message
    assert passes_of(db, member) == [] and client.get("/premium").status_code == 403
    # The other member's order was never captured by the forged return.
    state = orders.paypal.http.get(orders.paypal.url("/sim/api/purchases")).json()
    assert {p["id"]: p["status"] for p in state}[theirs] == "APPROVED"
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0


def test_an_order_for_another_amount_is_refused(
    orders, client, login_as, member, make_plan, db, sim
):
    """Is an order whose amount PayPal reports differently from our offer refused uncaptured?"""
    plan = pass_plan(make_plan)
    back = approve_order(orders, start_order(orders, client, login_as, member, plan.code))
    sim.purchase(order_id_of(back)).amount = sim.purchase(order_id_of(back)).amount / 2
    assert client.get(local(back, orders.url)).status_code == 409
    assert "not the offered 20.00 USD" in flags(db, "return")[0].message
    assert passes_of(db, member) == []


def test_a_pending_capture_waits_for_its_completion(
    orders, client, login_as, member, make_plan, db
):
    """A capture PayPal holds (PENDING): no access until PAYMENT.CAPTURE.COMPLETED."""
    plan = pass_plan(make_plan)
    orders.paypal.control("captures-pending", on=True)
    order_id = buy(orders, client, login_as, member, plan.code)
    orders.settle()
    (sub,) = passes_of(db, member)
    assert sub.access_until is None and client.get("/premium").status_code == 403
    orders.paypal.control(f"purchases/{order_id}/clear")
    orders.settle()
    assert passes_of(db, member)[0].state == "active"
    assert client.get("/premium").status_code == 200


def test_an_order_reported_by_ipn_too_is_one_payment(
    orders, client, login_as, member, make_plan, db
):
    """With PayPal's IPN on for REST payments (express_checkout), are the capture and its
    refund, each reported on three channels, still one payment and one refund?"""
    orders.paypal.control("account", rest_ipn=True, notify_url=f"{orders.url}/paypal/ipn")
    plan = pass_plan(make_plan)
    buy(orders, client, login_as, member, plan.code)
    orders.settle()
    kinds = {n.txn_type for n in orders.notes()}
    assert {"express_checkout", "PAYMENT.CAPTURE.COMPLETED"} <= kinds
    (sub,) = passes_of(db, member)
    (pay,) = payments_of(db, sub)
    until = sub.access_until
    assert all(n.status == "processed" for n in orders.notes())
    refund = orders.paypal.api(
        "POST",
        f"/v2/payments/captures/{pay.txn_id}/refund",
        json={"amount": {"value": "20.00", "currency_code": "USD"}},
    )
    assert refund.status_code == 201, refund.text
    orders.settle()
    (sub,) = passes_of(db, member)
    assert sub.state == "refunded" and until is not None
    assert all(n.status == "processed" for n in orders.notes()), [
        (n.txn_type, n.status) for n in orders.notes()
    ]


def test_an_admin_refund_of_a_pass_closes_it_once(
    orders, client, login_as, member, admin, make_plan, db, app, sim
):
    """Does the admin's refund form refund the capture at PayPal once, close the pass, and
    the PAYMENT.CAPTURE.REFUNDED webhook that follows add nothing?"""
    plan = pass_plan(make_plan)
    buy(orders, client, login_as, member, plan.code)
    orders.settle()
    (pay,) = payments_of(db, passes_of(db, member)[0])
    browser = login_as(admin, browser=app.test_client())
    r = browser.post(
        f"/admin/payments/{pay.id}",
        data={
            "amount": "20.00",
            "reason": "asked by the member",
            "key": "k" * 24,
            "confirm": "yes",
        },
    )
    assert r.status_code == 303, r.data
    assert [t.kind for t in sim.world.transactions.values()].count("refund") == 1
    assert client.get("/premium").status_code == 403
    orders.settle()
    assert any(n.txn_type == "PAYMENT.CAPTURE.REFUNDED" for n in orders.notes())
    db.session.expire_all()
    refunded = db.session.scalars(
        select(SubscriptionFact).where(SubscriptionFact.kind == "refunded")
    ).all()
    assert len(refunded) == 1, [(f.key, f.source) for f in refunded]
    assert passes_of(db, member)[0].state == "refunded"


def test_a_capture_paypal_did_not_answer_is_settled_by_the_job(
    orders, client, login_as, member, make_plan, db, monkeypatch, clock
):
    """The capture call on the return gets no answer (nothing captured): does the member see
    the delay, and the ask-PayPal job capture the checked order and open the pass?"""
    from gateway.jobs.ask_paypal import ask_paypal
    from gateway.paypal.api import ApiError, PayPalApi

    plan = pass_plan(make_plan)
    back = approve_order(orders, start_order(orders, client, login_as, member, plan.code))
    real_call = PayPalApi.call

    def no_answer_to_captures(self, method, path, **kw):
        if path.endswith("/capture"):
            raise ApiError("no answer within 2 s", retryable=True)
        return real_call(self, method, path, **kw)

    monkeypatch.setattr(PayPalApi, "call", no_answer_to_captures)
    page = client.get(local(back, orders.url))
    assert page.status_code == 200 and b'id="delayed"' in page.data
    assert passes_of(db, member) == [] and client.get("/premium").status_code == 403
    monkeypatch.setattr(PayPalApi, "call", real_call)
    with orders.app.app_context():
        summary = ask_paypal(clock.now())
    assert "1 pass order(s) settled" in summary, summary
    (sub,) = passes_of(db, member)
    assert sub.state == "active" and client.get("/premium").status_code == 200
    with orders.app.app_context():  # settled: the next run asks nothing
        assert "0 pass order(s) settled" in ask_paypal(clock.now())
