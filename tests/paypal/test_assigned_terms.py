"""The issue's story: a real subscription with a paid trial and four payments arrives for
no plan we know; an admin assigns a plan that describes those terms, and `rebuild` then
finds 0 differences (it found "trial 1 D at 11.00 ... 4 payments instead of unlimited"
when plans had no place for them). The signup check on such plans, matching and not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from gateway.billing.rules.statuses import SubscriptionState
from gateway.checkout.journal import open_checkout
from gateway.reconciliation.rebuild import rebuild
from gateway.subscriptions import admin_actions
from models import Flag, Subscription
from paypal_sim.formats import encode_form, ipn_date
from tests.inbox import process_due

T = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
SIGNUP_TERMS = {
    "mc_amount1": "11.00",
    "period1": "1 D",
    "mc_amount3": "9.00",
    "period3": "1 M",
    "recurring": "1",
    "recur_times": "4",
}


def body(**fields: str) -> bytes:
    common = {
        "subscr_id": "I-REALSTORY01",
        "mc_currency": "USD",
        "business": "merchant@example.com",
        "receiver_email": "merchant@example.com",
        "test_ipn": "1",
        "charset": "windows-1252",
    }
    return encode_form(list({**common, **fields}.items()), "windows-1252")


def signup(**changes: str) -> bytes:
    return body(txn_type="subscr_signup", subscr_date=ipn_date(T), **{**SIGNUP_TERMS, **changes})


def payment(txn: str, at: datetime, amount: str) -> bytes:
    return body(
        txn_type="subscr_payment",
        txn_id=txn,
        payment_date=ipn_date(at),
        payment_status="Completed",
        mc_gross=amount,
    )


def story(client, clock, **fields: str) -> None:
    """The signup and all five payments; the last at 16 April."""
    bodies = [signup(**fields), payment("TXNREAL0000000T", T, "11.00")]
    bodies += [
        payment(f"TXNREAL000000R{m}", datetime(2026, m, 16, 12, tzinfo=UTC), "9.00")
        for m in (1, 2, 3, 4)
    ]
    for b in bodies:
        r = client.post("/paypal/ipn", data=b, content_type="application/x-www-form-urlencoded")
        assert r.status_code == 200
    clock.set(datetime(2026, 4, 17, tzinfo=UTC))
    while process_due():
        pass


@pytest.fixture
def paid_trial_plan(make_plan):
    return make_plan(
        "real-paid-trial",
        price="9.00",
        trial_count=1,
        trial_unit="D",
        trial_price=Decimal("11.00"),
        payment_count=4,
    )


def test_assigned_then_rebuilt_with_no_difference(
    client, db, clock, verified, admin, paid_trial_plan
):
    story(client, clock, item_name="Something PayPal named")
    sub = db.session.scalar(select(Subscription))
    assert sub.plan_id is None  # no identifier names one of our plans: kept and flagged
    notes = admin_actions.assign(admin, sub, paid_trial_plan, None, "matched by hand", clock.now())
    db.session.commit()
    assert notes == []
    sub = db.session.scalar(select(Subscription))
    end = datetime(2026, 5, 16, 12, tzinfo=UTC)
    assert sub.state is SubscriptionState.ENDED and sub.access_until == end
    report = rebuild(clock.now(), batch_size=10)
    assert report.found == 0, report.differences


@pytest.mark.parametrize(
    "change,difference",
    [
        ({}, None),
        ({"mc_amount1": "1.00"}, "trial 1 D at 1.00 instead of 1 D at 11.00"),
        ({"recur_times": ""}, "unlimited payments instead of 4"),
        ({"mc_amount2": "0.00", "period2": "1 Y"}, "second trial 1 Y at 0 instead of none"),
    ],
)
def test_the_signup_check_compares_every_term(
    client, db, clock, verified, make_user, paid_trial_plan, change, difference
):
    """Our checkout offered the plan's terms: the same terms are accepted; a changed one
    is flagged and grants nothing (the payments wait with the flag)."""
    checkout = open_checkout(make_user(), paid_trial_plan, clock.now())
    db.session.commit()
    r = client.post(
        "/paypal/ipn",
        data=signup(custom=checkout.token, **change),
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 200
    process_due()
    found = [f.message for f in db.session.scalars(select(Flag).where(Flag.kind == "terms"))]
    if difference is None:
        assert found == []
        r = client.post(
            "/paypal/ipn",
            data=payment("TXNREAL0000000T", T, "11.00"),
            content_type="application/x-www-form-urlencoded",
        )
        process_due()
        sub = db.session.scalar(select(Subscription))
        assert sub.access_until == T + timedelta(days=1)
        assert db.session.scalar(select(Flag).where(Flag.kind == "amount")) is None
    else:
        assert len(found) == 1 and difference in found[0] and "nothing granted" in found[0]
