"""Notices from facts: each once, whatever the order or repetition of PayPal's messages,
handed to a real SMTP server on loopback."""

from __future__ import annotations

import email
import email.message
import email.policy
from datetime import UTC, datetime, timedelta

from aiosmtpd.controller import Controller
from sqlalchemy import select

from gateway.checkout.journal import open_checkout
from gateway.jobs import tasks
from models import OutboxMail
from paypal_sim.formats import encode_form, ipn_date
from tests.inbox import process_due
from tests.smtp import Inbox, free_port

T = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
BASE = [
    ("business", "merchant@example.com"),
    ("receiver_email", "merchant@example.com"),
    ("test_ipn", "1"),
    ("charset", "windows-1252"),
    ("item_number", "premium-monthly"),
]


def story(token: str) -> list[bytes]:
    sub = [("subscr_id", "I-NOTICE"), ("custom", token)]
    signup = [
        ("txn_type", "subscr_signup"),
        ("subscr_date", ipn_date(T)),
        ("mc_amount3", "9.00"),
        ("period3", "1 M"),
        ("recurring", "1"),
        ("mc_currency", "USD"),
    ]
    pay1 = [
        ("txn_type", "subscr_payment"),
        ("txn_id", "TXNNOTICE0000001"),
        ("payment_date", ipn_date(T)),
        ("payment_status", "Completed"),
        ("mc_gross", "9.00"),
        ("mc_currency", "USD"),
    ]
    fail = [
        ("txn_type", "subscr_failed"),
        ("payment_date", ipn_date(T + timedelta(days=31))),
        ("mc_gross", "9.00"),
        ("mc_currency", "USD"),
    ]
    refund = [
        ("payment_date", ipn_date(T + timedelta(days=3))),
        ("payment_status", "Refunded"),
        ("parent_txn_id", "TXNNOTICE0000001"),
        ("txn_id", "RFNOTICE00000001"),
        ("mc_gross", "-9.00"),
        ("mc_currency", "USD"),
    ]
    return [encode_form(m + sub + BASE, "windows-1252") for m in (signup, pay1, fail, refund)]


def test_each_notice_once_whatever_the_order(
    app, client, db, clock, make_user, make_plan, verified
):
    """Shuffled and doubled messages: one welcome, one receipt, one failure notice, one
    refund notice."""
    app.config["PUBLIC_URL"] = "https://members.test"  # workers have no request to ask
    member = make_user("m@example.com")
    checkout = open_checkout(member, make_plan("premium-monthly", role="premium"), clock.now())
    db.session.commit()
    bodies = story(checkout.token)
    for body in [bodies[3], bodies[1], bodies[2], bodies[0], bodies[1], bodies[3], bodies[2]]:
        assert (
            client.post(
                "/paypal/ipn", data=body, content_type="application/x-www-form-urlencoded"
            ).status_code
            == 200
        )
    while process_due():
        pass
    subjects = sorted(m.subject for m in db.session.scalars(select(OutboxMail)))
    assert subjects == [
        "Payment received: Premium-Monthly",
        "Refund issued: Premium-Monthly",
        "Welcome: your Premium-Monthly is confirmed",
        "Your renewal payment failed",
    ]
    assert all(m.to_addr == "m@example.com" for m in db.session.scalars(select(OutboxMail)))

    port, inbox = free_port(), Inbox()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert tasks.send_mail(clock.now()) == "4 of 4 mail(s) sent"
        assert tasks.send_mail(clock.now()) == "0 of 0 mail(s) sent"
    finally:
        controller.stop()
    received = [email.message_from_bytes(m, policy=email.policy.default) for m in inbox.messages]
    assert sorted(str(m["Subject"]) for m in received) == subjects
    receipt = next(m for m in received if str(m["Subject"]).startswith("Payment received"))
    assert isinstance(receipt, email.message.EmailMessage)
    plain = receipt.get_body(preferencelist=("plain",))
    assert plain is not None
    text = plain.get_content()
    assert "TXNNOTICE0000001" in text and "https://members.test/account" in text


def test_access_ending_and_ended_notices_go_once(
    app, db, clock, make_user, make_plan, make_subscription
):
    """A cancelled subscription: "ends on" NOTICE_DAYS before, "has ended" after; once each."""
    from decimal import Decimal

    from gateway.billing import Fact, FactKind

    member, t = make_user("m@example.com"), clock.now()
    make_subscription(
        member,
        make_plan("premium-monthly"),
        [
            Fact(FactKind.PAYMENT_COMPLETED, t, key="p", txn_id="T1", amount=Decimal("9.00")),
            Fact(FactKind.CANCELLED, t + timedelta(days=2), key="c"),
        ],
    )
    renewing = make_user("r@example.com")
    make_subscription(
        renewing,
        make_plan("pro-monthly", role="pro"),
        [Fact(FactKind.PAYMENT_COMPLETED, t, key="p2", txn_id="T2", amount=Decimal("9.00"))],
        paypal_id="I-RENEWS",
    )

    def subjects():
        return sorted(m.subject for m in db.session.scalars(select(OutboxMail)))

    assert tasks.access_notices(clock.now()) == "0 notice(s) queued"  # a month to go
    clock.advance(days=29)  # access ends 15 Feb: within three days now
    assert tasks.access_notices(clock.now()) == "1 notice(s) queued"
    assert tasks.access_notices(clock.now()) == "0 notice(s) queued"
    clock.advance(days=3)
    tasks.access_notices(clock.now())
    tasks.access_notices(clock.now())
    assert subjects() == ["Your access ends on 15 Feb 2026", "Your access has ended"]
    # the renewing member's payment is merely late: no "ended" notice for them
    assert [m.to_addr for m in db.session.scalars(select(OutboxMail))] == ["m@example.com"] * 2
