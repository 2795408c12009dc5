"""Limited seats: holds, release on expiry and lapse, confirmation by payment, overflow,
and what the member and admin pages show. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from gateway.checkout.journal import open_checkout
from gateway.jobs import tasks
from gateway.subscriptions import admin_actions, seats
from models import Checkout, Flag, Notification, Payment, SeatHold, Subscription
from paypal_sim.formats import encode_form, ipn_date
from tests.inbox import process_due
from tests.paypal import ipn_builders as ipn
from tests.paypal.conftest import StubVerifier

T = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def verified(app):
    """Postbacks answer VERIFIED; messages wait for an explicit process call."""
    app.extensions["ipn_verifier"] = StubVerifier()


@pytest.fixture
def seated(make_plan):
    """A plan with one seat."""
    return make_plan("seated", role="premium", seat_limit=1)


def message(fields: list[tuple[str, str]], token: str, plan: str) -> bytes:
    common = [(k, v) for k, v in ipn.COMMON if k not in ("custom", "item_number")]
    return encode_form(fields + common + [("custom", token), ("item_number", plan)], "windows-1252")


def signup(sub: str, token: str = "", plan: str = "seated") -> bytes:
    return message(
        [
            ("txn_type", "subscr_signup"),
            ("subscr_id", sub),
            ("subscr_date", ipn_date(T)),
            ("mc_amount3", "9.00"),
            ("period3", "1 M"),
            ("recurring", "1"),
            ("mc_currency", "USD"),
        ],
        token,
        plan,
    )


def payment(sub: str, txn: str, token: str = "", plan: str = "seated") -> bytes:
    return message(
        [
            ("txn_type", "subscr_payment"),
            ("subscr_id", sub),
            ("txn_id", txn),
            ("payment_date", ipn_date(T)),
            ("payment_status", "Completed"),
            ("mc_gross", "9.00"),
            ("mc_fee", "0.56"),
            ("mc_currency", "USD"),
        ],
        token,
        plan,
    )


def deliver(client, db, *bodies: bytes) -> None:
    """Post each message to the IPN endpoint, then apply everything that is due."""
    for body in bodies:
        r = client.post("/paypal/ipn", data=body, content_type="application/x-www-form-urlencoded")
        assert r.status_code == 200
    while process_due():
        pass
    db.session.expire_all()
    notes = db.session.scalars(select(Notification)).all()
    assert all(n.status == "processed" for n in notes), [(n.status, n.error) for n in notes]


def seat_rows(db) -> list[tuple[int, int | None, int | None, bool]]:
    """(seat number, checkout, subscription, still a hold) of every seat, by number."""
    db.session.expire_all()
    return [
        (s.seat_no, s.checkout_id, s.subscription_id, s.held_until is not None)
        for s in db.session.scalars(select(SeatHold).order_by(SeatHold.seat_no))
    ]


def test_a_checkout_holds_the_lowest_free_seat_and_keeps_it(app, db, make_user, make_plan, clock):
    """Seats 1, 2 in order; re-opening keeps the member's hold; the third member is refused."""
    plan = make_plan("duo", seat_limit=2)
    a, b, c = make_user(), make_user(), make_user()
    first = open_checkout(a, plan, clock.now())
    db.session.commit()
    clock.advance(minutes=10)
    again = open_checkout(a, plan, clock.now())  # the member clicks Subscribe again
    db.session.commit()
    assert again.id == first.id
    second = open_checkout(b, plan, clock.now())
    db.session.commit()
    assert seat_rows(db) == [(1, first.id, None, True), (2, second.id, None, True)]
    hold_minutes = app.config["CHECKOUT_HOLD_MINUTES"]
    assert db.session.scalar(
        select(SeatHold.held_until).where(SeatHold.checkout_id == first.id)
    ) == clock.now() + timedelta(minutes=hold_minutes)  # extended with the checkout
    with pytest.raises(seats.SoldOut):
        open_checkout(c, plan, clock.now())
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Checkout)) == 2
    assert seats.usage([plan.id], clock.now())[plan.id] == seats.SeatUsage(2, 0, 2, 0, 0)


def test_an_unlimited_plan_takes_no_seat(app, db, make_user, make_plan, clock):
    plan = make_plan("open-plan")
    checkout = open_checkout(make_user(), plan, clock.now())
    assert seats.hold(checkout, clock.now()) is None
    db.session.commit()
    assert seat_rows(db) == []
    assert seats.usage([plan.id], clock.now()) == {}


def test_sold_out_subscribe_answers_409_with_a_clear_page(
    app, client, db, login_as, make_user, seated
):
    """The second member sees a friendly sold-out page; no checkout is left behind."""
    login_as(make_user())
    assert client.post("/checkout/subscribe/seated").status_code == 200
    login_as(make_user())
    page = client.post("/checkout/subscribe/seated")
    text = page.data.decode()
    assert page.status_code == 409
    assert "Seated is sold out" in text and "nothing was charged" in text
    assert "Traceback" not in text
    assert db.session.scalar(select(func.count()).select_from(Checkout)) == 1
    assert len(seat_rows(db)) == 1


def test_an_expired_hold_returns_its_seat_on_demand(app, db, make_user, seated, clock):
    """No job has run: the next buyer's hold releases the lapsed one and takes seat 1."""
    a, b = make_user(), make_user()
    first = open_checkout(a, seated, clock.now())
    db.session.commit()
    clock.advance(minutes=app.config["CHECKOUT_HOLD_MINUTES"] - 1)
    with pytest.raises(seats.SoldOut):  # one minute before the hold ends: still held
        open_checkout(b, seated, clock.now())
    db.session.rollback()
    clock.advance(minutes=1)
    second = open_checkout(b, seated, clock.now())
    db.session.commit()
    assert second.id != first.id
    assert seat_rows(db) == [(1, second.id, None, True)]


def test_the_expire_job_releases_held_seats(app, db, make_user, make_plan, clock):
    plan = make_plan("trio", seat_limit=3)
    for _ in range(2):
        open_checkout(make_user(), plan, clock.now())
    db.session.commit()
    assert tasks.expire_checkouts(clock.now()) == "0 checkout hold(s) expired, 0 seat(s) released"
    clock.advance(minutes=app.config["CHECKOUT_HOLD_MINUTES"])
    assert tasks.expire_checkouts(clock.now()) == "2 checkout hold(s) expired, 2 seat(s) released"
    assert seat_rows(db) == []
    assert seats.usage([plan.id], clock.now())[plan.id] == seats.SeatUsage(3, 0, 0, 3, 0)


def test_a_cancelled_checkout_releases_its_hold(app, db, make_user, seated, clock):
    checkout = open_checkout(make_user(), seated, clock.now())
    db.session.commit()
    assert seats.release_checkout(checkout) == 1
    db.session.commit()
    assert seat_rows(db) == []
    open_checkout(make_user(), seated, clock.now())  # the seat is free again
    db.session.commit()
    assert len(seat_rows(db)) == 1


def test_a_payment_confirms_the_held_seat(app, client, db, make_user, seated, clock, verified):
    checkout = open_checkout(make_user(), seated, clock.now())
    db.session.commit()
    deliver(
        client, db, signup("I-SEAT1", checkout.token), payment("I-SEAT1", "TXS1", checkout.token)
    )
    sub = db.session.scalar(select(Subscription))
    assert sub.access_until is not None
    assert seat_rows(db) == [(1, checkout.id, sub.id, False)]
    clock.advance(days=1)  # a confirmed seat does not expire with its checkout
    assert tasks.expire_checkouts(clock.now()) == "0 checkout hold(s) expired, 0 seat(s) released"
    assert seats.usage([seated.id], clock.now())[seated.id] == seats.SeatUsage(1, 1, 0, 0, 0)
    assert db.session.scalar(select(func.count()).select_from(Flag)) == 0


def test_a_payment_after_its_hold_lapsed_takes_a_free_seat(
    app, client, db, make_user, seated, clock, verified
):
    checkout = open_checkout(make_user(), seated, clock.now())
    db.session.commit()
    clock.advance(minutes=app.config["CHECKOUT_HOLD_MINUTES"] + 5)
    assert tasks.expire_checkouts(clock.now()) == "1 checkout hold(s) expired, 1 seat(s) released"
    deliver(client, db, payment("I-LATE1", "TXL1", checkout.token))
    sub = db.session.scalar(select(Subscription))
    assert seat_rows(db) == [(1, checkout.id, sub.id, False)]
    assert db.session.scalars(select(Flag.kind)).all() == []


def test_a_payment_on_a_sold_out_plan_is_kept_over_the_limit_and_flagged(
    app, client, db, admin, login_as, make_user, seated, clock, verified
):
    """Money is never dropped: subscription and payment recorded, overflow seat 2, a flag."""
    late, buyer = make_user(), make_user()
    lapsed = open_checkout(late, seated, clock.now())
    db.session.commit()
    clock.advance(minutes=app.config["CHECKOUT_HOLD_MINUTES"] + 1)
    holder = open_checkout(buyer, seated, clock.now())  # the lapsed hold gives way
    db.session.commit()
    deliver(client, db, signup("I-OVER1", lapsed.token), payment("I-OVER1", "TXO1", lapsed.token))
    sub = db.session.scalar(select(Subscription))
    assert sub.user_id == late.id and sub.access_until is not None
    assert db.session.scalar(select(Payment.txn_id)) == "TXO1"
    assert db.session.get(Checkout, lapsed.id).status == "completed"
    assert seat_rows(db) == [(1, holder.id, None, True), (2, lapsed.id, sub.id, False)]
    flags = db.session.scalars(select(Flag)).all()
    assert [(f.kind, f.subscription_id) for f in flags] == [("seats", sub.id)]
    assert "sold out" in flags[0].message and "overflow seat 2" in flags[0].message
    assert seats.usage([seated.id], clock.now())[seated.id] == seats.SeatUsage(1, 1, 1, 0, 1)
    login_as(admin)
    assert "over by 1" in client.get("/admin/plans").data.decode()

    # The buyer's hold lapses unpaid: the member over the limit moves into seat 1.
    clock.advance(minutes=app.config["CHECKOUT_HOLD_MINUTES"])
    assert tasks.expire_checkouts(clock.now()) == "1 checkout hold(s) expired, 1 seat(s) released"
    assert seat_rows(db) == [(1, lapsed.id, sub.id, False)]
    assert seats.usage([seated.id], clock.now())[seated.id] == seats.SeatUsage(1, 1, 0, 0, 0)
    assert "over by" not in client.get("/admin/plans").data.decode()


def test_an_unclaimed_subscription_takes_a_seat(app, client, db, make_user, make_plan, verified):
    """No checkout names a member: the subscription is kept (flagged) and takes a seat."""
    plan = make_plan("duo", seat_limit=2)
    deliver(client, db, payment("I-NOBODY", "TXN1", token="", plan="duo"))
    sub = db.session.scalar(select(Subscription))
    assert sub.user_id is None and sub.plan_id == plan.id
    assert seat_rows(db) == [(1, None, sub.id, False)]
    assert db.session.scalars(select(Flag.kind)).all() == ["unclaimed"]


def test_an_unclaimed_subscription_on_a_full_plan_takes_an_overflow_seat(
    app, client, db, make_user, seated, clock, verified
):
    holder = open_checkout(make_user(), seated, clock.now())
    db.session.commit()
    deliver(client, db, payment("I-NOBODY", "TXN1", token=""))
    sub = db.session.scalar(select(Subscription))
    assert seat_rows(db) == [(1, holder.id, None, True), (2, None, sub.id, False)]
    assert sorted(db.session.scalars(select(Flag.kind))) == ["seats", "unclaimed"]


def test_a_lapsed_subscription_frees_its_seat(app, client, db, make_user, seated, clock, verified):
    """Cancelled: the seat stays while paid for, and is freed once access has ended."""
    checkout = open_checkout(make_user(), seated, clock.now())
    db.session.commit()
    cancel = message(
        [("txn_type", "subscr_cancel"), ("subscr_id", "I-GONE"), ("subscr_date", ipn_date(T))],
        checkout.token,
        "seated",
    )
    deliver(client, db, signup("I-GONE", checkout.token), payment("I-GONE", "TXG1", checkout.token))
    deliver(client, db, cancel)
    sub = db.session.scalar(select(Subscription))
    assert sub.state == "cancelled" and sub.access_until is not None
    clock.set(sub.access_until - timedelta(minutes=1))
    assert tasks.settle_lapsed(clock.now()).endswith(", 0 seat(s) freed")
    with pytest.raises(seats.SoldOut):
        open_checkout(make_user(), seated, clock.now())
    db.session.rollback()
    clock.advance(minutes=2)
    # Before any job runs, the seat already counts as free.
    assert seats.usage([seated.id], clock.now())[seated.id] == seats.SeatUsage(1, 0, 0, 1, 0)
    assert tasks.settle_lapsed(clock.now()) == "1 lapsed subscription(s) settled, 1 seat(s) freed"
    assert seat_rows(db) == []
    newcomer = open_checkout(make_user(), seated, clock.now())
    db.session.commit()
    assert seat_rows(db) == [(1, newcomer.id, None, True)]


def test_a_lapsed_subscription_frees_its_seat_on_demand(app, db, admin, make_user, seated, clock):
    """Without the job, the next hold frees a revoked subscription's seat itself."""
    sub = admin_actions.grant(
        admin, make_user(), seated, clock.now() + timedelta(days=30), "t", clock.now()
    )
    assert seats.confirm(None, sub, seated, clock.now())[1] is False
    db.session.commit()
    assert seat_rows(db) == [(1, None, sub.id, False)]
    with pytest.raises(seats.SoldOut):
        open_checkout(make_user(), seated, clock.now())
    db.session.rollback()
    admin_actions.revoke(admin, db.session.get(Subscription, sub.id), "t", clock.now())
    db.session.commit()
    newcomer = open_checkout(make_user(), seated, clock.now())
    db.session.commit()
    assert seat_rows(db) == [(1, newcomer.id, None, True)]


def test_admin_plans_page_shows_used_held_free(
    app, client, db, admin, login_as, make_user, make_plan, clock, verified
):
    plan = make_plan("trio", seat_limit=3)
    make_plan("open-plan")
    paid = open_checkout(make_user(), plan, clock.now())
    open_checkout(make_user(), plan, clock.now())
    db.session.commit()
    deliver(client, db, payment("I-ADMIN", "TXA1", paid.token, plan="trio"))
    login_as(admin)
    page = client.get("/admin/plans").data.decode()
    row = next(r for r in page.split("<tr>") if ">trio<" in r)
    assert "1 used · 1 held · 1 free" in row and "of 3" in row and "over by" not in row
    unlimited = next(r for r in page.split("<tr>") if ">open-plan<" in r)
    assert "∞" in unlimited and "used" not in unlimited


def test_member_plans_page_shows_sold_out_and_seats_left(
    app, client, db, login_as, make_user, make_plan, clock
):
    seated = make_plan("seated", seat_limit=1)
    make_plan("trio", seat_limit=3, role="pro")
    make_plan("open-plan", role="pro")
    holder, other = make_user(), make_user()
    open_checkout(holder, seated, clock.now())
    db.session.commit()

    def card(page: str, code: str) -> str:
        return next(c for c in page.split('<div class="card">') if f"<h2>{code.title()}</h2>" in c)

    login_as(other)
    page = client.get("/plans").data.decode()
    sold = card(page, "seated")
    assert "Sold out" in sold and "/checkout/subscribe/seated" not in sold
    assert "Only 3 seats left" in card(page, "trio")
    assert "seat" not in card(page, "open-plan").lower()
    assert client.post("/checkout/subscribe/seated").status_code == 409

    login_as(holder)  # the member holding the seat can still go on to PayPal
    mine = card(client.get("/plans").data.decode(), "seated")
    assert "Sold out" not in mine and "held for you" in mine
    assert re.search(r'action="[^"]*/checkout/subscribe/seated"', mine)
    assert client.post("/checkout/subscribe/seated").status_code == 200
    assert len(seat_rows(db)) == 1

    client.post("/auth/logout")
    anonymous = card(client.get("/plans").data.decode(), "seated")
    assert "Sold out" in anonymous and "Log in to subscribe" not in anonymous


def test_turning_back_at_paypal_frees_the_seat(app, db, clock, make_user, seated, login_as):
    """PayPal's cancel link closes the member's checkout and releases its seat at once;
    another member's token in that link does nothing."""
    a, b = make_user("a@example.com"), make_user("b@example.com")
    checkout = open_checkout(a, seated, clock.now())
    db.session.commit()
    with pytest.raises(seats.SoldOut):
        open_checkout(b, seated, clock.now())
    db.session.rollback()

    other = app.test_client()
    login_as(b, browser=other)
    other.get(f"/checkout/cancelled?cm={checkout.token}")  # not B's checkout: nothing
    db.session.expire_all()
    assert db.session.get(Checkout, checkout.id).status == "open"

    browser = login_as(a, browser=app.test_client())
    assert browser.get(f"/checkout/cancelled?cm={checkout.token}").status_code == 302
    db.session.expire_all()
    assert db.session.get(Checkout, checkout.id).status == "cancelled"
    assert db.session.scalar(select(func.count()).select_from(SeatHold)) == 0
    assert open_checkout(b, seated, clock.now()).status == "open"
