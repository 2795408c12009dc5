"""A failed renewal shows as past due wherever the member looks: the badge, a banner on
every page while the grace runs (with the date access ends and PayPal's page to fix it),
kept pages included, without a query on a gated page and without leaking to anyone else."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from gateway.billing import Fact
from gateway.billing import FactKind as K
from gateway.subscriptions import service
from tests.sql import statements_sent
from tests.web.test_gate import wait_until_trusted

BANNER = '<p class="banner past-due" role="alert">'


def pay(txn, at):
    return Fact(K.PAYMENT_COMPLETED, at, key=txn, txn_id=txn, amount=Decimal("9.00"))


@pytest.fixture
def premium(make_plan):
    return make_plan("premium-monthly", role="premium")


@pytest.fixture
def late(clock, make_user, make_subscription, premium):
    """A member whose renewal failed a day before the paid-through date (PayPal bills on
    its own clock): still inside what was paid for, yet past due."""
    member = make_user("late@example.com")
    t = clock.now()
    sub = make_subscription(
        member,
        premium,
        [pay("A", t - timedelta(days=30)), Fact(K.PAYMENT_FAILED, t, key="f")],
        paypal_id="I-LATE",
    )
    assert sub.paid_through > t  # the case the old "grace" word missed
    return member, sub


def test_a_failure_before_the_paid_through_date_shows_past_due(client, login_as, late):
    """Badge, banner, end date and PayPal's page, on the account page?"""
    member, sub = late
    login_as(member)
    page = client.get("/account").data.decode()
    assert '<span class="badge past_due">past due</span>' in page
    assert page.count(BANNER) == 1  # the account page's own, not twice
    assert "Payment failed: Premium-Monthly is past due." in page
    assert f"Your access ends on {sub.grace_until:%d %b %Y %H:%M} UTC" in page
    assert 'href="http://127.0.0.1:5001/sim/">Fix your payment method at PayPal</a>' in page


def test_the_banner_is_on_every_page_and_a_gated_page_runs_no_query(
    app, db, client, login_as, late, make_user, make_subscription, premium, clock, new_client
):
    """On a kept content page and others; no SQL; another member's kept page has none."""
    member, sub = late
    login_as(member)
    for path in ("/plans", "/premium"):
        assert BANNER in client.get(path).data.decode(), path
    wait_until_trusted(app)
    client.get("/premium")
    with statements_sent(db.engine) as statements:
        r = client.get("/premium")
    assert r.status_code == 200 and statements == []
    assert f"access ends on {sub.grace_until:%d %b %Y}" in r.data.decode()
    # Another member with the same role sees the same kept page, without the banner.
    paying = make_user("paying@example.com")
    make_subscription(paying, premium, [pay("B", clock.now() - timedelta(days=1))])
    other = login_as(paying, browser=new_client())
    r = other.get("/premium")
    assert r.status_code == 200 and BANNER not in r.data.decode()


def test_the_banner_goes_when_paid_or_when_the_grace_ends(db, client, login_as, late, clock):
    """A payment that goes through ends it at once (the session recomputes); so does time."""
    member, sub = late
    login_as(member)
    assert BANNER in client.get("/plans").data.decode()
    clock.advance(days=5)  # past the grace: access ended, nothing to fix
    assert BANNER not in client.get("/plans").data.decode()
    clock.advance(days=-5)
    service.record_fact(sub, pay("C", clock.now()), source="test", now=clock.now())
    service.recompute(sub, clock.now())
    db.session.commit()
    page = client.get("/account").data.decode()
    assert BANNER not in page and '<span class="badge active">active</span>' in page
