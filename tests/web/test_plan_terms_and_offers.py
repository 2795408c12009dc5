"""The plan editor describes every shape PayPal sells (paid and second trials, a fixed
number of payments) with clear errors, and offers: a hidden plan sold only from its own
link, its visits and signups counted on the admin's plans page."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from gateway.roles.service import ensure_roles
from models import Plan, Subscription

PLAN = {
    "code": "gold",
    "name": "Gold",
    "price": "9.00",
    "currency": "USD",
    "period_count": "1",
    "period_unit": "M",
    "trial_count": "",
    "trial_unit": "",
    "paypal_plan_id": "",
    "seat_limit": "",
    "active": "y",
}


@pytest.fixture
def form(db, clock):
    premium = ensure_roles(["premium"], clock.now())[0]
    db.session.commit()
    return {**PLAN, "roles": str(premium.id)}


def test_the_editor_saves_every_term(client, db, admin, login_as, form):
    """A paid day, a free week, four payments and an offer code: saved, and the plans page
    describes the terms in words."""
    login_as(admin)
    terms = {
        "trial_count": "1",
        "trial_unit": "D",
        "trial_price": "11.00",
        "trial2_count": "1",
        "trial2_unit": "W",
        "trial2_price": "",
        "payment_count": "4",
        "offer_code": "gold-spring",
    }
    assert client.post("/admin/plans/new", data={**form, **terms}).status_code == 303
    plan = db.session.scalar(select(Plan).where(Plan.code == "gold"))
    assert (plan.trial_price, plan.trial2_count, plan.trial2_unit) == (Decimal("11.00"), 1, "W")
    assert plan.trial2_price is None and plan.payment_count == 4
    assert plan.offer_code == "gold-spring" and not plan.listed
    page = client.get("/admin/plans").data.decode()
    assert (
        "11.00 USD trial of 1 D, then free trial of 1 W, then 9.00 USD every 1 M, 4 times" in page
    )
    assert "/offer/gold-spring" in page and "0 visits · 0 signups" in page
    assert "by its link" in page  # offered, but not listed


@pytest.mark.parametrize(
    "change,message",
    [
        ({"trial_price": "5.00"}, "A trial price needs a trial length."),
        ({"trial_count": "1", "trial_unit": "D", "trial_price": "-1"}, "A price is 0 or more."),
        ({"trial2_count": "1", "trial2_unit": "W"}, "A second trial comes after a first"),
        ({"trial_count": "1", "trial_unit": "D", "trial2_count": "2"}, "Give both a second"),
        ({"trial2_price": "3.00"}, "A second trial price needs a second trial length."),
        ({"payment_count": "0"}, "From 1 to 999 payments."),
        ({"payment_count": "53"}, "at most 52 payments; use a REST plan"),
        ({"offer_code": "Spring Sale"}, "Lower-case letters"),
    ],
)
def test_the_editor_refuses_impossible_terms(client, admin, login_as, form, change, message):
    """Each impossible shape is a 400 naming the problem; nothing is saved."""
    login_as(admin)
    r = client.post("/admin/plans/new", data={**form, **change})
    assert r.status_code == 400 and message in r.data.decode()


def test_more_than_52_payments_need_a_rest_plan(client, db, admin, login_as, form):
    """A REST plan's total_cycles goes to 999: accepted with a PayPal plan id."""
    login_as(admin)
    data = {**form, "payment_count": "60", "paypal_plan_id": "P-LONG"}
    assert client.post("/admin/plans/new", data=data).status_code == 303


def test_an_offer_is_hidden_and_sold_from_its_link_only(client, db, login_as, make_user, make_plan):
    """Not on /plans; its link shows it and counts the visit; the checkout wants the code."""
    make_plan("premium-monthly", role="premium", price="9.00")
    make_plan(
        "premium-half",
        role="premium",
        price="4.50",
        offer_code="half",
        trial_count=1,
        trial_unit="M",
    )
    assert "premium-half" not in client.get("/plans").data.decode()
    member = make_user("m@example.com")
    login_as(member)
    assert "premium-half" not in client.get("/plans").data.decode()
    page = client.get("/offer/half").data.decode()
    assert "4.50 USD" in page and 'name="offer" value="half"' in page
    assert "Trial: 1 month free" in page
    client.get("/offer/half")
    db.session.expire_all()
    assert db.session.scalar(select(Plan.offer_visits).where(Plan.code == "premium-half")) == 2
    assert client.get("/offer/nope").status_code == 404
    # A guessed plan code buys nothing; the link's form does.
    assert client.post("/checkout/subscribe/premium-half").status_code == 404
    assert client.post("/checkout/subscribe/premium-half", data={"offer": "x"}).status_code == 404
    r = client.post("/checkout/subscribe/premium-half", data={"offer": "half"})
    assert r.status_code == 200
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', r.data.decode()))
    assert (fields["a1"], fields["p1"], fields["t1"], fields["a3"]) == ("0.00", "1", "M", "4.50")


def test_an_ended_offer_is_gone(client, db, make_plan):
    """An inactive offer's link answers 404, not a stack trace."""
    make_plan("old-offer", role="premium", offer_code="old").active = False
    db.session.commit()
    assert client.get("/offer/old").status_code == 404


def test_the_plans_page_counts_each_links_signups(
    client, db, admin, login_as, make_plan, make_user, make_subscription, clock
):
    """Signups: the offer plan's subscriptions that started (hidden: its link sold them)."""
    offer = make_plan("premium-half", role="premium", price="4.50", offer_code="half")
    for i in range(3):
        sub = make_subscription(make_user(f"u{i}@example.com"), offer)
        if i < 2:
            sub.started_at = clock.now()
    db.session.commit()
    client.get("/offer/half")
    login_as(admin)
    page = client.get("/admin/plans").data.decode()
    assert "1 visit · 2 signups" in page
    assert db.session.scalar(select(Subscription.id).where(Subscription.plan_id == offer.id))
