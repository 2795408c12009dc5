"""Honest states: every subscription says why it is where it is, on the member's page."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from decimal import Decimal

import pytest

from gateway.billing import Fact
from gateway.billing import FactKind as K
from gateway.subscriptions import admin_actions


def pay(txn, at):
    return Fact(K.PAYMENT_COMPLETED, at, key=txn, txn_id=txn, amount=Decimal("9.00"))


@pytest.mark.parametrize(
    "story,state,sentence",
    [
        (
            lambda t: [
                pay("A", t),
                Fact(
                    K.REFUNDED, t + timedelta(days=2), key="r", txn_id="A", amount=Decimal("-9.00")
                ),
            ],
            "refunded",
            "Refunded 9.00 USD on 17 Jan 2026: that payment's period no longer gives access; "
            "nothing is paid for.",
        ),
        (
            lambda t: [
                pay("A", t),
                Fact(
                    K.REVERSED, t + timedelta(days=3), key="v", txn_id="A", amount=Decimal("-9.00")
                ),
            ],
            "charged_back",
            "Charged back 9.00 USD on 18 Jan 2026: that payment's period no longer gives "
            "access; nothing is paid for.",
        ),
        (
            lambda t: [
                pay("A", t),
                Fact(K.CANCELLED, t + timedelta(days=1), key="c"),
                Fact(K.REFUNDED, t + timedelta(days=2), key="r", txn_id="A"),
            ],
            "cancelled",
            # no amount said and no payment row to read it from: the day only
            "Refunded on 17 Jan 2026: that payment's period no longer gives access. "
            "Cancelled on 16 Jan 2026.",
        ),
        (
            lambda t: [
                pay("A", t),
                Fact(K.CANCELLED, t + timedelta(days=1), key="c"),
                Fact(
                    K.REVERSED, t + timedelta(days=3), key="v", txn_id="A", amount=Decimal("-9.00")
                ),
            ],
            "cancelled",
            "Charged back 9.00 USD on 18 Jan 2026: that payment's period no longer gives access. "
            "Cancelled on 16 Jan 2026.",
        ),
        (
            lambda t: [
                pay("A", t - timedelta(days=31)),
                Fact(K.REFUNDED, t - timedelta(days=20), key="r", txn_id="A"),
                pay("B", t),
            ],
            "active",
            "Access until 15 Feb 2026.",  # a payment since: the refund is old news
        ),
        (
            lambda t: [
                pay("A", t),
                Fact(
                    K.REVERSED, t + timedelta(days=1), key="v", txn_id="A", amount=Decimal("-9.00")
                ),
                Fact(K.REVERSAL_CANCELLED, t + timedelta(days=9), key="x", txn_id="A"),
            ],
            "active",
            "Access until 15 Feb 2026.",  # the chargeback was cancelled: nothing to tell
        ),
        (
            lambda t: [
                pay("A", t - timedelta(days=31)),
                Fact(K.PAYMENT_FAILED, t - timedelta(hours=1), key="f"),
            ],
            "active",
            "A renewal payment failed; PayPal retries until 18 Jan 2026",
        ),
        (
            lambda t: [pay("A", t), Fact(K.CANCELLED, t + timedelta(days=1), key="c")],
            "cancelled",
            "Cancelled on 16 Jan 2026; access until 15 Feb 2026",
        ),
        (lambda t: [pay("A", t)], "active", "Access until 15 Feb 2026"),
    ],
)
def test_the_member_page_says_why(
    client, clock, login_as, make_user, make_plan, make_subscription, story, state, sentence
):
    """Refunded, charged back, failing, cancelled: each reads as what happened, when."""
    member = make_user()
    sub = make_subscription(member, make_plan("premium-monthly"), story(clock.now()))
    assert sub.state == state
    login_as(member)
    page = html.unescape(client.get("/account").data.decode())
    assert sentence in page, re.findall(r'class="reason">([^<]*)<', page)


def test_a_revocation_keeps_the_admins_reason_internal(
    client, clock, db, admin, login_as, make_user, make_plan, make_subscription
):
    """Revoked: the member reads when, and only the message written for them."""
    member = make_user()
    sub = make_subscription(member, make_plan("premium-monthly"), [pay("A", clock.now())])
    admin_actions.revoke(admin, sub, "Chargeback abuse test", clock.now())
    db.session.commit()
    login_as(member)
    page = client.get("/account").data.decode()
    assert "Access ended by the site on 15 Jan 2026. Contact us" in page
    assert "Chargeback abuse" not in page and "administrator" not in page
    admin_actions.extend(admin, sub, clock.now() + timedelta(days=5), "mistake", clock.now())
    admin_actions.revoke(
        admin, sub, "abuse, case 17", clock.now(), member_note="Your card issuer reversed it."
    )
    db.session.commit()
    page = client.get("/account").data.decode()
    assert "Access ended by the site on 15 Jan 2026: Your card issuer reversed it." in page
    assert "case 17" not in page


def test_the_admin_form_says_who_reads_what(
    client, db, admin, login_as, make_user, make_plan, make_subscription, clock
):
    """The revoke form: an internal reason and an optional message to the member."""
    member = make_user()
    sub = make_subscription(member, make_plan("premium-monthly"), [pay("A", clock.now())])
    login_as(admin)
    page = client.get(f"/admin/subscriptions/{sub.id}/revoke").data.decode()  # confirm page
    assert "never shown to the member" in page and "Message to the member" in page
    r = client.post(
        f"/admin/subscriptions/{sub.id}/revoke",
        data={
            "revoke-reason": "internal only",
            "revoke-member_note": "See you soon",
            "confirm": "yes",
        },
    )
    assert r.status_code == 303
    login_as(member)
    page = client.get("/account").data.decode()
    assert ": See you soon." in page and "internal only" not in page


def test_the_account_page_is_a_customer_portal(
    client, clock, db, login_as, make_user, make_plan, make_subscription, new_client
):
    """Next charge and its amount, the payment history with receipts, how to cancel."""
    from models import Payment

    member = make_user()
    sub = make_subscription(
        member, make_plan("premium-monthly"), [pay("TXNPORTAL", clock.now())], paypal_id="I-PORTAL"
    )
    db.session.add(
        Payment(
            subscription_id=sub.id,
            txn_id="TXNPORTAL",
            status="Completed",
            amount=Decimal("9.00"),
            currency="USD",
            paid_at=clock.now(),
            created_at=clock.now(),
        )
    )
    db.session.commit()
    payment = db.session.scalar(db.select(Payment))
    login_as(member)
    page = client.get("/account").data.decode()
    assert "9.00 USD on 15 Feb 2026" in page  # next charge, from the subscription's terms
    assert f"/account/receipts/{payment.id}" in page and "automatic payments at PayPal" in page
    receipt = client.get(f"/account/receipts/{payment.id}").data.decode()
    assert "TXNPORTAL" in receipt and "9.00 USD" in receipt and "I-PORTAL" in receipt
    stranger = login_as(make_user(), browser=new_client())
    assert stranger.get(f"/account/receipts/{payment.id}").status_code == 404


def test_a_failed_renewal_shows_a_past_due_banner(
    client, clock, login_as, make_user, make_plan, make_subscription
):
    """After a failed renewal the member sees what to do and until when access lasts."""
    member = make_user()
    t = clock.now()
    make_subscription(
        member,
        make_plan("premium-monthly"),
        [pay("A", t - timedelta(days=31)), Fact(K.PAYMENT_FAILED, t - timedelta(hours=1), key="f")],
        paypal_id="I-LATE",
    )
    login_as(member)
    page = client.get("/account").data.decode()
    assert "Payment failed: Premium-Monthly is past due." in page
    assert "Your access ends on 18 Jan 2026" in page
    assert '<span class="badge past_due">past due</span>' in page
