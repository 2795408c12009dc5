"""End to end over real HTTP: member subscribes at the stand-in, IPNs arrive, access follows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from models import Checkout, Flag, Payment, Subscription


def sub_of(db, member):
    db.session.expire_all()
    return db.session.scalar(select(Subscription).where(Subscription.user_id == member.id))


def test_subscribe_ipn_opens_access(live, client, login_as, member, premium, db):
    """Subscribe -> the return page only waits -> the verified IPN opens access."""
    token, location = live.subscribe(client, login_as, member)
    assert location.startswith(f"{live.url}/checkout/return")
    # The return page proves nothing: no access before PayPal's message is processed.
    waiting = client.get(location.replace(live.url, ""))
    assert b"Waiting for PayPal" in waiting.data
    assert client.get("/premium").status_code == 403
    status = client.get(f"/checkout/{token}/status").json
    assert status == {
        "status": "open",
        "access": False,
        "free_trial": False,
        "access_until": None,
        "access_until_text": None,
    }

    live.settle()
    notes = live.notes()
    assert [n.txn_type for n in notes] == ["subscr_signup", "subscr_payment"]
    assert all(n.status == "processed" and n.verification == "VERIFIED" for n in notes)
    sub = sub_of(db, member)
    assert sub.paypal_id.startswith("I-") and sub.state == "active"
    assert sub.access_until == sub.paid_through
    assert client.get("/premium").status_code == 200
    paid = client.get(f"/checkout/{token}/status").json
    assert paid["access"] is True and paid["free_trial"] is False
    checkout = db.session.scalar(select(Checkout).where(Checkout.token == token))
    assert checkout.status == "completed" and checkout.subscription_id == sub.id
    pay = db.session.scalar(select(Payment))
    assert pay.amount == premium.price and pay.status == "Completed" and pay.fee > 0


def test_renewal_extends(live, client, login_as, member, premium, db):
    """Does each monthly renewal push access one month further?"""
    live.subscribe(client, login_as, member)
    live.settle()
    first = sub_of(db, member).access_until
    live.advance(days=31)
    sub = sub_of(db, member)
    assert sub.access_until > first and len(db.session.scalars(select(Payment)).all()) == 2
    assert client.get("/premium").status_code == 200


def test_failed_renewal_grace_then_recovery(live, client, login_as, member, premium, db):
    """Failed renewal -> grace keeps access -> the retry pays -> normal access."""
    live.subscribe(client, login_as, member)
    live.settle()
    sub = sub_of(db, member)
    paid_through = sub.paid_through
    live.paypal.control(f"subscriptions/{sub.paypal_id}/fail-next")
    live.advance(days=31, hours=1)  # past paid-through: the renewal failed
    sub = sub_of(db, member)
    assert sub.grace_until == paid_through + timedelta(days=3)
    assert client.get("/premium").status_code == 200  # in grace
    live.advance(days=3)  # PayPal retries after 3 days: pays
    sub = sub_of(db, member)
    assert sub.grace_until is None and sub.paid_through > paid_through
    assert client.get("/premium").status_code == 200


def test_failed_renewal_grace_then_end(live, client, login_as, member, premium, db):
    """Three failures -> subscr_eot -> access ends at paid-through, no grace left."""
    live.subscribe(client, login_as, member)
    live.settle()
    sub = sub_of(db, member)
    live.paypal.control(f"subscriptions/{sub.paypal_id}/fail-next", count=3)
    live.advance(days=31 + 3 + 3 + 1)
    sub = sub_of(db, member)
    assert sub.state == "ended" and sub.access_until == sub.paid_through
    assert client.get("/premium").status_code == 403


def test_cancel_keeps_paid_through(live, client, login_as, member, premium, db):
    """Cancel at PayPal: access stays until the paid-through date, then 403."""
    live.subscribe(client, login_as, member)
    live.settle()
    sub = sub_of(db, member)
    live.advance(days=5)
    live.paypal.control(f"subscriptions/{sub.paypal_id}/cancel")
    live.settle()
    sub = sub_of(db, member)
    assert sub.state == "cancelled" and sub.access_until == sub.paid_through
    assert client.get("/premium").status_code == 200
    live.advance(days=27)  # past the paid month; subscr_eot too
    assert sub_of(db, member).state == "ended"
    assert client.get("/premium").status_code == 403


def test_refund_revokes_at_once(live, client, login_as, member, premium, db):
    """A refund removes the period it paid for: 403 on the next request."""
    live.subscribe(client, login_as, member)
    live.settle()
    assert client.get("/premium").status_code == 200
    txn = db.session.scalar(select(Payment)).txn_id
    live.paypal.control(f"transactions/{txn}/refund")
    live.settle()
    assert sub_of(db, member).access_until is None
    assert client.get("/premium").status_code == 403
    assert db.session.scalar(select(Payment)).status == "Refunded"


def test_chargeback_revokes_and_cancelled_reversal_restores(
    live, client, login_as, member, premium, db
):
    """Reversed -> 403 at once; Canceled_Reversal -> access back."""
    live.subscribe(client, login_as, member)
    live.settle()
    until = sub_of(db, member).access_until
    txn = db.session.scalar(select(Payment)).txn_id
    live.paypal.control(f"transactions/{txn}/reverse")
    live.settle()
    assert client.get("/premium").status_code == 403
    live.paypal.control(f"transactions/{txn}/cancel-reversal")
    live.settle()
    assert sub_of(db, member).access_until == until
    assert client.get("/premium").status_code == 200


def test_payment_before_signup_and_duplicates(live, client, login_as, member, premium, db):
    """Reordered and duplicated deliveries give the same single subscription and period."""
    live.paypal.control("faults", kind="reorder")
    live.paypal.control("faults", kind="duplicate")
    live.subscribe(client, login_as, member)
    live.paypal.control("deliveries/run", release_held=True)
    live.settle()
    notes = live.notes()
    assert len(notes) == 3 and notes[0].txn_type == "subscr_payment"
    assert all(n.status == "processed" for n in notes)
    assert [n.txn_type for n in notes] == ["subscr_payment", "subscr_payment", "subscr_signup"]
    assert ["already applied" in n.outcome for n in notes] == [False, True, False]
    assert len(db.session.scalars(select(Subscription)).all()) == 1
    assert len(db.session.scalars(select(Payment)).all()) == 1
    assert client.get("/premium").status_code == 200


def test_unclaimed_subscription_is_flagged(live, client, login_as, member, premium, db):
    """A subscription whose custom names no checkout is kept unclaimed and flagged."""
    live.subscribe(client, login_as, member, custom="not-a-token")
    live.settle()
    sub = db.session.scalar(select(Subscription))
    assert sub.user_id is None and sub.access_until is not None
    flag = db.session.scalar(select(Flag))
    assert flag.kind == "unclaimed" and sub.paypal_id in flag.message
    assert client.get("/premium").status_code == 403


def test_postback_answers_from_the_stand_in(live, client, login_as, member, premium, db, app):
    """HTML error page and a hanging postback are retried; INVALID and forgeries rejected."""
    app.config["PAYPAL_TIMEOUT"] = 0.3
    app.extensions.pop("ipn_verifier", None)
    live.paypal.control("faults", kind="postback_html")
    live.paypal.control("faults", kind="postback_hang", seconds=1)
    live.subscribe(client, login_as, member)
    live.settle()
    notes = live.notes()
    assert [n.status for n in notes] == ["retry", "retry"]
    errors = sorted(n.error for n in notes)  # postbacks run concurrently: either may hang
    assert "Fatal Failure" in errors[0] and "no answer within 0.3 s" in errors[1]
    assert client.get("/premium").status_code == 403
    live.clock.advance(minutes=2)
    live.settle()
    assert [n.status for n in live.notes()] == ["processed", "processed"]
    assert client.get("/premium").status_code == 200

    forged = b"txn_type=subscr_payment&subscr_id=I-FORGED&mc_gross=9.00&txn_id=FAKE"
    assert (
        client.post(
            "/paypal/ipn", data=forged, content_type="application/x-www-form-urlencoded"
        ).status_code
        == 200
    )
    live.settle()
    note = live.notes()[-1]
    assert note.status == "invalid" and note.body == forged
    assert (
        db.session.scalar(select(Subscription).where(Subscription.paypal_id == "I-FORGED")) is None
    )


def test_no_second_renewing_subscription(live, client, login_as, member, premium, db):
    """Once a plan renews for the member, is its button gone and a direct POST refused?"""
    login_as(member)
    assert b"Subscribe with PayPal" in client.get("/plans").data
    live.subscribe(client, login_as, member)
    live.settle()
    page = client.get("/plans").data
    assert b"You are subscribed to this plan and it renews" in page
    assert b"Subscribe with PayPal" not in page
    r = client.post("/checkout/subscribe/premium-monthly")
    assert r.status_code == 409 and b"charge you twice" in r.data


@pytest.mark.parametrize(
    "form,period_at_most",
    [
        ({"a1": "0.00", "p1": "5", "t1": "Y"}, None),  # a five-year free trial added
        ({"a3": "1.00"}, None),  # the price lowered
        ({"currency_code": "EUR"}, None),  # another currency
        ({"p3": "1", "t3": "Y"}, timedelta(days=31)),  # a year for the price of a month
    ],
)
def test_a_tampered_button_through_paypal_buys_nothing_extra(
    live, client, login_as, member, premium, db, form, period_at_most
):
    """The member edits our button; PayPal honours it and reports genuine, VERIFIED
    messages; the signup is flagged and access is at most what the offer sells."""
    live.subscribe(client, login_as, member, **form)
    live.settle()
    flags = {f.kind for f in db.session.scalars(select(Flag))}
    assert "terms" in flags
    sub = sub_of(db, member)
    if period_at_most is None:
        assert sub is None or sub.access_until is None
        assert client.get("/premium").status_code == 403
    else:  # the 9.00 that PayPal collected buys what 9.00 buys here: one month
        assert sub.access_until <= live.clock.now() + period_at_most
