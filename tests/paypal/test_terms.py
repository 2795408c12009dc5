"""What a member agreed to is what they get: a tampered button buys nothing, a price change
applies to new checkouts only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from gateway.checkout.journal import open_checkout
from models import Flag, Notification, Subscription, SubscriptionFact, SubscriptionTerms
from paypal_sim.formats import encode_form, ipn_date
from tests.inbox import process_due

T = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

TAMPERED = {  # the form fields a member changed -> the signup fields PayPal then reports
    "trial added": {"mc_amount1": "0.00", "period1": "5 Y"},
    "trial lengthened": {"mc_amount1": "0.00", "period1": "30 D"},
    "price lowered": {"mc_amount3": "1.00"},
    "period lengthened": {"period3": "1 Y"},
    "currency changed": {"mc_currency": "EUR"},
}


def signup(token: str, trial: bool = False, **changes: str) -> bytes:
    fields = {
        "txn_type": "subscr_signup",
        "subscr_id": "I-TERMS0001",
        "subscr_date": ipn_date(T),
        "mc_amount3": "9.00",
        "period3": "1 M",
        "recurring": "1",
        "mc_currency": "USD",
        "custom": token,
        "item_number": "premium-monthly",
        "business": "merchant@example.com",
        "receiver_email": "merchant@example.com",
        "test_ipn": "1",
        "charset": "windows-1252",
    }
    if trial:  # the plan's free week, as our button offers it
        fields.update({"mc_amount1": "0.00", "period1": "7 D"})
    fields.update(changes)
    return encode_form(list(fields.items()), "windows-1252")


def payment(txn: str, at: datetime, amount: str = "9.00", currency: str = "USD") -> bytes:
    return encode_form(
        [
            ("txn_type", "subscr_payment"),
            ("subscr_id", "I-TERMS0001"),
            ("txn_id", txn),
            ("payment_date", ipn_date(at)),
            ("payment_status", "Completed"),
            ("mc_gross", amount),
            ("mc_currency", currency),
            ("item_number", "premium-monthly"),
            ("business", "merchant@example.com"),
            ("receiver_email", "merchant@example.com"),
            ("test_ipn", "1"),
            ("charset", "windows-1252"),
        ],
        "windows-1252",
    )


def post(client, body: bytes) -> None:
    r = client.post("/paypal/ipn", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200


@pytest.fixture
def offer(db, clock, make_user, make_plan, verified):
    """A member's open checkout for premium-monthly: 9.00 USD a month (plus a trial on demand)."""

    def make(trial: bool = False):
        extra = {"trial_count": 7, "trial_unit": "D"} if trial else {}
        plan = make_plan("premium-monthly", role="premium", price="9.00", **extra)
        member = make_user()
        checkout = open_checkout(member, plan, clock.now())
        db.session.commit()
        return member, checkout

    return make


@pytest.mark.parametrize("variant", TAMPERED)
def test_a_tampered_signup_is_flagged_and_grants_nothing(client, db, offer, variant, login_as):
    """Each way of editing the button: the genuine signup is flagged; no access, no trial."""
    has_trial = variant == "trial lengthened"
    member, checkout = offer(trial=has_trial)
    post(client, signup(checkout.token, trial=has_trial, **TAMPERED[variant]))
    process_due()
    note = db.session.scalar(select(Notification))
    flag = db.session.scalar(select(Flag).where(Flag.kind == "terms"))
    assert note.status == "flagged" and flag is not None and "nothing granted" in flag.message
    assert db.session.scalar(select(SubscriptionFact)) is None
    sub = db.session.scalar(select(Subscription))
    assert sub is None or sub.access_until is None
    login_as(member)
    assert "did not match the terms we offered" in client.get("/account").data.decode()


def test_the_honest_signup_records_its_terms(client, db, offer):
    """The untampered button: signup applied, the offer and the signup both in the history."""
    member, checkout = offer(trial=True)
    post(client, signup(checkout.token, trial=True))
    process_due()
    sub = db.session.scalar(select(Subscription))
    assert sub.user_id == member.id and sub.trial_until == T + timedelta(days=7)
    sources = [t.source.value for t in db.session.scalars(select(SubscriptionTerms))]
    assert sorted(sources) == ["offer", "signup"]


def test_the_waiting_page_says_a_free_trial_started_not_a_payment(client, db, offer, login_as):
    """A 0.00 trial opened access: the waiting page's poll says so (its script then says
    "Your free trial has started", never "PayPal confirmed your payment"); the first real
    payment turns it into a paid subscription's answer."""
    member, checkout = offer(trial=True)
    post(client, signup(checkout.token, trial=True))
    process_due()
    login_as(member)
    status = client.get(f"/checkout/{checkout.token}/status").json
    assert status["access"] is True and status["free_trial"] is True
    post(client, payment("TXNTRIAL00000001", T + timedelta(days=7)))
    process_due()
    status = client.get(f"/checkout/{checkout.token}/status").json
    assert status["free_trial"] is False


def test_a_price_rise_applies_to_new_checkouts_only(app, client, db, offer, clock, login_as):
    """Raised from 9.00 to 12.00: old subscribers' 9.00 renewals still extend access."""
    member, checkout = offer()
    post(client, signup(checkout.token))
    post(client, payment("TXNTERMS00000001", T))
    while process_due():
        pass
    plan = checkout.plan
    plan.price = Decimal("12.00")
    db.session.commit()
    post(client, payment("TXNTERMS00000002", T + timedelta(days=31)))
    process_due()
    sub = db.session.scalar(select(Subscription))
    assert db.session.scalar(select(Flag).where(Flag.kind == "amount")) is None
    assert sub.access_until == datetime(2026, 3, 15, 12, tzinfo=UTC)  # two months paid
    post(client, payment("TXNTERMS00000003", T + timedelta(days=60), amount="12.00"))
    process_due()
    flag = db.session.scalar(select(Flag).where(Flag.kind == "amount"))
    assert flag is not None and "9.00 USD every 1 M" in flag.message  # their terms, not 12.00

    login_as(member)
    page = client.post("/checkout/subscribe/premium-monthly")
    assert page.status_code == 409  # member already renews; a newcomer sees the new price:
    from models import User

    other = User(email="new@example.com", password_hash="x", created_at=clock.now())
    db.session.add(other)
    db.session.commit()
    login_as(other)
    html = client.post("/checkout/subscribe/premium-monthly").data.decode()
    assert re.search(r'name="a3" value="12.00"', html)
