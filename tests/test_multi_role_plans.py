"""A plan granting several roles: the member holds each, and "paying twice" is judged
role by role (a switch is offered when any role is shared; an older subscription is
double-billed only when newer ones grant every one of its roles)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.access import roles_for
from gateway.billing import Fact
from gateway.billing import FactKind as K
from gateway.subscriptions.queries import double_billed, renewing, sharing_a_role


def paid(txn, at, amount="19.00"):
    return Fact(K.PAYMENT_COMPLETED, at, key=txn, txn_id=txn, amount=Decimal(amount))


@pytest.fixture
def buy(clock, make_subscription):
    """buy(member, plan): a renewing PayPal subscription, a minute after the previous one."""
    seq = iter(range(1, 100))

    def make(member, plan):
        n = next(seq)
        clock.advance(minutes=1)
        return make_subscription(member, plan, [paid(f"T{n}", clock.now())], paypal_id=f"I-{n}")

    return make


@pytest.fixture
def bundle(make_plan):
    return make_plan("bundle", roles=("pro", "premium"), price="19.00")


def test_a_bundle_grants_both_roles(clock, make_user, bundle, buy, client, login_as):
    member = make_user()
    assert sorted(bundle.role_names) == ["premium", "pro"]
    sub = buy(member, bundle)
    held = roles_for(member.id)
    assert set(held) == {"premium", "pro"}
    assert held["premium"] == held["pro"] == sub.access_until
    login_as(member)
    assert client.get("/premium").status_code == 200
    assert client.get("/pro").status_code == 200


def test_a_single_role_plan_opens_only_its_role(make_user, make_plan, buy, client, login_as):
    member = make_user()
    buy(member, make_plan("pro-monthly", role="pro"))
    assert set(roles_for(member.id)) == {"pro"}
    login_as(member)
    assert client.get("/pro").status_code == 200
    assert client.get("/premium").status_code == 403


def test_buying_a_plan_sharing_a_role_with_a_bundle_is_a_switch(
    clock, make_user, make_plan, bundle, buy, client, login_as
):
    """With pro+premium renewing, premium-only is offered as a switch from the bundle, and
    a plan sharing no role is an ordinary purchase."""
    member = make_user()
    premium_only = make_plan("premium-only", role="premium", price="9.00")
    other = make_plan("extra", role="extra", price="5.00")
    sub = buy(member, bundle)
    subs = renewing(member.id, clock.now())
    assert sharing_a_role(subs, premium_only) is sub
    assert sharing_a_role(subs, other) is None
    login_as(member)
    page = client.get("/plans").data.decode()
    assert "Switch to Premium-Only" in page and "Subscribe with PayPal" in page
    r = client.post("/checkout/subscribe/premium-only")
    assert r.status_code == 409 and b"would charge you twice" in r.data


def test_an_older_bundle_is_double_billed_only_when_every_role_is_granted_anew(
    clock, make_user, make_plan, bundle, buy
):
    member = make_user()
    old = buy(member, bundle)
    buy(member, make_plan("premium-only", role="premium", price="9.00"))
    assert double_billed(renewing(member.id, clock.now())) == []  # pro only from the bundle
    buy(member, make_plan("pro-only", role="pro", price="12.00"))
    assert double_billed(renewing(member.id, clock.now())) == [old]


def test_an_older_single_role_plan_is_double_billed_by_a_newer_bundle(
    clock, make_user, make_plan, bundle, buy
):
    member = make_user()
    old = buy(member, make_plan("premium-only", role="premium", price="9.00"))
    new = buy(member, bundle)
    subs = renewing(member.id, clock.now())
    assert double_billed(subs) == [old]
    assert sharing_a_role(subs, bundle) is new
