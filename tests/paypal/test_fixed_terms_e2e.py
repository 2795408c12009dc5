"""Terms beyond one free trial, end to end against the stand-in: a paid trial, two trials, a
fixed number of payments. The button carries them, the signup check passes (and catches a
tampered one), trial payments are expected at the trial price, the subscription ends after
its last payment without waiting for PayPal's end of term, and `rebuild` finds nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from gateway.billing.rules.statuses import SubscriptionState
from gateway.reconciliation.rebuild import rebuild
from models import Flag, OutboxMail, Payment, Subscription


@pytest.fixture
def paid_trial(make_plan):
    """The issue's real subscription: 1 day at 11.00, then 4 payments of 9.00 a month."""
    return make_plan(
        "paid-trial",
        price="9.00",
        trial_count=1,
        trial_unit="D",
        trial_price=Decimal("11.00"),
        payment_count=4,
    )


@pytest.fixture
def two_trials(make_plan):
    """A free week, then a month at 5.00, then 3 payments of 9.00 a month."""
    return make_plan(
        "two-trials",
        price="9.00",
        trial_count=7,
        trial_unit="D",
        trial2_count=1,
        trial2_unit="M",
        trial2_price=Decimal("5.00"),
        payment_count=3,
    )


def button(client, login_as, user, code: str) -> dict[str, str]:
    login_as(user)
    html = client.post(f"/checkout/subscribe/{code}").data.decode()
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def the_sub(db) -> Subscription:
    db.session.expire_all()
    sub = db.session.scalar(select(Subscription))
    assert sub is not None
    return sub


def flags(db) -> list[str]:
    return [f"{f.kind}: {f.message}" for f in db.session.scalars(select(Flag))]


def test_the_buttons_carry_every_term(client, login_as, member, paid_trial, two_trials):
    """a1/p1/t1 (paid or 0.00), a2/p2/t2, a3/p3/t3, src=1 and srt from the plan."""
    one = button(client, login_as, member, "paid-trial")
    assert {k: one[k] for k in ("a1", "p1", "t1", "a3", "p3", "t3", "src", "srt")} == {
        "a1": "11.00",
        "p1": "1",
        "t1": "D",
        "a3": "9.00",
        "p3": "1",
        "t3": "M",
        "src": "1",
        "srt": "4",
    }
    assert "a2" not in one
    two = button(client, login_as, member, "two-trials")
    assert (two["a1"], two["p1"], two["t1"]) == ("0.00", "7", "D")
    assert (two["a2"], two["p2"], two["t2"], two["srt"]) == ("5.00", "1", "M", "3")


def test_a_paid_trial_then_four_payments_ends_after_the_last(
    live, client, login_as, member, admin, paid_trial, db, clock
):
    """11.00 for a day, 9.00 on each of the next four months, then the end: on the last
    payment the subscription says when it ends, before PayPal's end of term arrives."""
    start = clock.now()
    live.subscribe(client, login_as, member, "paid-trial")
    live.settle()
    sub = the_sub(db)
    assert flags(db) == [] and sub.state is SubscriptionState.ACTIVE
    assert sub.paid_through == start + timedelta(days=1)  # the trial's day, paid 11.00
    welcome = db.session.scalar(select(OutboxMail).where(OutboxMail.subject.like("Welcome%")))
    assert "PayPal will charge 9.00 USD on 16 Jan 2026 (4 payments in all)." in welcome.text_body
    assert "until you cancel" not in welcome.text_body
    live.advance(days=1)  # the first regular payment
    for _ in range(2):
        live.advance(days=31)
    sub = the_sub(db)
    assert sub.state is SubscriptionState.ACTIVE and sub.renews
    live.advance(days=31)  # the fourth and last regular payment
    sub = the_sub(db)
    amounts = sorted(p.amount for p in db.session.scalars(select(Payment)))
    assert amounts == [Decimal("9.00")] * 4 + [Decimal("11.00")]
    assert flags(db) == []
    end = start + timedelta(days=1)
    end = end.replace(month=end.month + 4)
    assert sub.paid_through == sub.access_until == sub.ended_at == end
    assert sub.state is SubscriptionState.ENDED and not sub.renews
    login_as(member)
    page = client.get("/account").data.decode()
    assert "last of 4 payments" in page and "Renews on" not in page
    login_as(admin)
    timeline = client.get(f"/admin/subscriptions/{sub.id}").data.decode()
    assert "The last of 4 payments is made: the term ends 2026-05-16 12:00 UTC" in timeline
    live.advance(days=31)  # PayPal's end of term comes, and nothing more is charged
    sub = the_sub(db)
    assert sub.ended_at == end and db.session.query(Payment).count() == 5
    assert not any(f.startswith("amount") for f in flags(db))
    assert rebuild(clock.now(), batch_size=10).found == 0


def test_two_trials_free_then_paid(live, client, login_as, member, two_trials, db, clock):
    """A free week (no payment), a month at 5.00, then three at 9.00; nothing flagged."""
    start = clock.now()
    live.subscribe(client, login_as, member, "two-trials")
    live.settle()
    sub = the_sub(db)
    assert sub.trial_until == start + timedelta(days=7) and sub.access_until == sub.trial_until
    welcome = db.session.scalar(select(OutboxMail).where(OutboxMail.subject.like("Welcome%")))
    assert "PayPal will charge 5.00 USD on 22 Jan 2026 (3 payments in all)." in welcome.text_body
    live.advance(days=7)  # the second trial's 5.00
    sub = the_sub(db)
    second_end = (start + timedelta(days=7)).replace(month=start.month + 1)
    assert sub.paid_through == second_end
    for _ in range(3):
        live.advance(days=31)
    sub = the_sub(db)
    amounts = sorted(p.amount for p in db.session.scalars(select(Payment)))
    assert amounts == [Decimal("5.00")] + [Decimal("9.00")] * 3
    assert sub.state is SubscriptionState.ENDED and flags(db) == []
    assert sub.ended_at == second_end.replace(month=second_end.month + 3)
    assert rebuild(clock.now(), batch_size=10).found == 0


def test_a_regular_price_during_the_paid_trial_is_flagged(
    live, client, login_as, member, paid_trial, db
):
    """The trial's payment must be the trial's price: the tampered button (a1 1.00) is
    refused at signup, and nothing is granted."""
    live.subscribe(client, login_as, member, "paid-trial", a1="1.00")
    live.settle()
    found = "\n".join(flags(db))
    assert "trial 1 D at 1.00 instead of 1 D at 11.00" in found
    sub = db.session.scalar(select(Subscription))
    assert sub is None or sub.access_until is None
