"""One refund, one mail: the admin's action, PayPal's IPN and its webhook all report it,
and the mail says what the refund changed (partial: access unchanged; full: the period
is gone)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import OutboxMail, Payment
from tests.paypal.test_rest_e2e import sub_of, subscribe_and_return


def refund_mails(db) -> list[OutboxMail]:
    db.session.expire_all()
    return [
        m
        for m in db.session.scalars(select(OutboxMail).order_by(OutboxMail.id))
        if "refund" in m.subject.lower()
    ]


@pytest.fixture
def paid(rest, client, login_as, member, db, verified):
    """A member with one REST payment of 9.00; PayPal reports money back by IPN too."""
    subscribe_and_return(rest, client, login_as, member)
    rest.settle()
    rest.paypal.control("account", rest_ipn=True, notify_url=f"{rest.url}/paypal/ipn")
    payment = db.session.scalar(select(Payment))
    assert payment is not None and client.get("/premium").status_code == 200
    return payment


def refund(browser, payment, amount: str, key: str):
    r = browser.post(
        f"/admin/payments/{payment.id}",
        data={"amount": amount, "reason": "asked by the member", "key": key, "confirm": "yes"},
    )
    assert r.status_code == 303


def test_one_refund_told_by_three_channels_is_one_mail(
    rest, paid, client, login_as, admin, member, db, app
):
    """Partial, then the rest: one mail each, saying what changed."""
    browser = login_as(admin, browser=app.test_client())
    refund(browser, paid, "2.00", "a" * 24)
    rest.settle()  # PayPal's webhook and IPN about the same refund
    money_back = [n for n in rest.notes() if n.outcome and "efund" in n.outcome]
    assert {n.channel for n in money_back} == {"ipn", "webhook"}, [
        (n.channel, n.outcome) for n in rest.notes()
    ]
    mails = refund_mails(db)
    assert len(mails) == 1, [(m.key, m.subject) for m in mails]
    partial = mails[0]
    assert partial.subject == "Partial refund issued: Premium-Monthly"
    assert "PayPal refunded 2.00 USD of your payment" in partial.text_body
    assert "of 9.00 USD" in partial.text_body
    assert "Your access is unchanged: it runs until" in partial.text_body
    assert "no longer gives access" not in partial.text_body + partial.html_body
    assert client.get("/premium").status_code == 200

    refund(browser, paid, "7.00", "b" * 24)
    rest.settle()
    mails = refund_mails(db)
    assert len(mails) == 2, [(m.key, m.subject) for m in mails]
    full = mails[1]
    assert full.subject == "Refund issued: Premium-Monthly"
    assert "PayPal refunded 7.00 USD of your payment" in full.text_body
    assert "The period that payment paid for no longer gives access" in full.text_body
    assert "your access has ended" in full.text_body
    assert client.get("/premium").status_code == 403 and sub_of(db, member).state == "refunded"
