"""No paying twice for the same access: a plan granting a role the member already renews
is offered as a switch, and after it the older subscription is pointed out for cancelling."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from gateway.billing import Fact
from gateway.billing import FactKind as K


def paid(txn, at, amount="9.00"):
    return Fact(K.PAYMENT_COMPLETED, at, key=txn, txn_id=txn, amount=Decimal(amount))


def test_a_same_role_plan_is_offered_as_a_switch(
    client, clock, login_as, make_user, make_plan, make_subscription
):
    """Premium monthly renews: premium yearly is a switch (explained), never a second buy."""
    member = make_user()
    monthly = make_plan("premium-monthly", role="premium")
    make_plan("premium-yearly", role="premium", price="90.00", period_unit="Y")
    make_plan("pro-monthly", role="pro", price="29.00")
    make_subscription(member, monthly, [paid("A", clock.now())], paypal_id="I-MONTHLY")
    login_as(member)
    page = client.get("/plans").data.decode()
    assert "Switch to Premium-Yearly" in page and "not charged twice" in page
    assert "Subscribe with PayPal" in page  # pro is a different role: an ordinary purchase
    blunt = client.post("/checkout/subscribe/premium-yearly")
    assert blunt.status_code == 409 and b"would charge you twice" in blunt.data
    switch = client.post("/checkout/subscribe/premium-yearly", data={"switch": "1"})
    assert switch.status_code == 200 and b'name="a3" value="90.00"' in switch.data


def test_after_a_switch_the_older_subscription_is_pointed_out(
    client, clock, login_as, make_user, make_plan, make_subscription
):
    """Both renew: the member is told to cancel the older one at PayPal, with the link."""
    member = make_user()
    t = clock.now()
    make_subscription(
        member,
        make_plan("premium-monthly", role="premium"),
        [paid("A", t - timedelta(days=10))],
        paypal_id="I-OLD",
    )
    clock.advance(minutes=1)
    make_subscription(
        member,
        make_plan("premium-yearly", role="premium", price="90.00", period_unit="Y"),
        [paid("B", t, "90.00")],
        paypal_id="I-NEW",
    )
    login_as(member)
    page = client.get("/account").data.decode()
    assert "cancel your older Premium-Monthly subscription" in page
    assert "Premium-Yearly subscription at" not in page
