"""Checkouts: one open per member and plan (database-enforced), and the subscribe button."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.checkout.journal import open_checkout
from models import Checkout


def test_one_open_checkout_per_member_and_plan(app, db, make_user, make_plan, clock):
    """Is a second open checkout for the same member and plan refused by the database?"""
    member, plan = make_user(), make_plan("premium-monthly")
    first = open_checkout(member, plan, clock.now())
    assert open_checkout(member, plan, clock.now()).id == first.id  # reused
    db.session.commit()
    db.session.add(
        Checkout(
            token="dup",
            user_id=member.id,
            plan_id=plan.id,
            status="open",
            created_at=clock.now(),
            expires_at=clock.now(),
        )
    )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    other = make_plan("pro-monthly", role="pro")
    assert open_checkout(member, other, clock.now()).id != first.id  # another plan: fine


def test_expired_checkout_is_replaced(app, db, make_user, make_plan, clock):
    """After the hold runs out, does the member get a fresh checkout and token?"""
    member, plan = make_user(), make_plan("premium-monthly")
    first = open_checkout(member, plan, clock.now())
    db.session.commit()
    clock.advance(minutes=app.config["CHECKOUT_HOLD_MINUTES"] + 1)
    second = open_checkout(member, plan, clock.now())
    db.session.commit()
    assert second.token != first.token
    assert db.session.get(Checkout, first.id).status == "expired"


def test_subscribe_button_fields(app, client, db, login_as, make_user, make_plan):
    """Does the page post a Standard subscribe button with our token as custom?"""
    app.config["PUBLIC_URL"] = "https://members.example.com"
    make_plan("premium-yearly", price="90.00", period_unit="Y", trial_count=7, trial_unit="D")
    login_as(make_user())
    page = client.post("/checkout/subscribe/premium-yearly").data.decode()
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    token = db.session.scalar(select(Checkout.token))
    assert 'action="http://127.0.0.1:5001/cgi-bin/webscr"' in page
    assert fields["cmd"] == "_xclick-subscriptions" and fields["custom"] == token
    assert (fields["a1"], fields["p1"], fields["t1"]) == ("0.00", "7", "D")
    assert (fields["a3"], fields["p3"], fields["t3"]) == ("90.00", "1", "Y")
    assert fields["notify_url"] == "https://members.example.com/paypal/ipn"
    assert fields["return"] == "https://members.example.com/checkout/return"
    assert fields["business"] == "merchant@example.com" and fields["src"] == "1"


def test_subscribe_needs_login_csrf_and_a_real_plan(app, client, login_as, make_user):
    """Anonymous -> login; unknown plan -> 404; missing CSRF token -> 400."""
    assert client.post("/checkout/subscribe/premium-monthly").status_code == 302
    login_as(make_user())
    assert client.post("/checkout/subscribe/nope").status_code == 404
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post("/checkout/subscribe/nope").status_code == 400


def test_return_page_and_status_are_the_members_own(
    client, db, login_as, make_user, make_plan, clock
):
    """Can a member see only their own checkout's status?"""
    owner, other = make_user(), make_user()
    checkout = open_checkout(owner, make_plan("premium-monthly"), clock.now())
    db.session.commit()
    login_as(other)
    assert client.get(f"/checkout/{checkout.token}/status").status_code == 404
    assert (
        b"could not find that checkout"
        in client.get("/checkout/return", query_string={"cm": checkout.token}).data
    )
    login_as(owner)
    assert client.get(f"/checkout/{checkout.token}/status").json["status"] == "open"
    assert (
        b"Waiting for PayPal"
        in client.get("/checkout/return", query_string={"cm": checkout.token}).data
    )


@pytest.mark.parametrize("retryable", [False, True])
@pytest.mark.parametrize("kind", ["subscription", "pass"])
def test_paypal_not_starting_a_checkout_is_a_503_and_a_refusal_a_flag(
    app, client, db, login_as, make_user, make_plan, monkeypatch, kind, retryable
):
    """PayPal refuses (4xx) or keeps failing while we open a REST subscription or an order:
    the member gets a 503 that says nothing was charged; a refusal is flagged for an admin
    (a configuration problem), an outage is not."""
    from gateway.billing.rules.statuses import PlanKind
    from gateway.checkout import rest
    from gateway.passes import orders
    from gateway.paypal.api import ApiError
    from models import Flag

    def fail(*args: object, **kwargs: object) -> str:
        raise ApiError("no", status=503 if retryable else 422, retryable=retryable)

    if kind == "subscription":
        make_plan("premium-rest", paypal_plan_id="P-REST")
        monkeypatch.setattr(rest, "uses_rest", lambda plan: True)
        monkeypatch.setattr(rest, "begin", fail)
        url, said = "/checkout/subscribe/premium-rest", "a subscription for plan premium-rest"
    else:
        make_plan("day-pass", period_unit="D", kind=PlanKind.PASS)
        app.config["PASS_CHECKOUT"] = "orders"
        monkeypatch.setattr(orders, "begin", fail)
        url, said = "/passes/buy/day-pass", "an order for pass day-pass"
    login_as(make_user())
    r = client.post(url)
    assert r.status_code == 503 and b"nothing was charged" in r.data
    flags = [f.message for f in db.session.scalars(select(Flag).where(Flag.kind == "api"))]
    assert flags == ([] if retryable else [f"PayPal refused {said}: HTTP 422: no"])
