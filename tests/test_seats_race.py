"""Members racing for the last seats, and late payments racing for overflow seats
(PostgreSQL, real threads, each with its own request or app context and session)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.checkout.journal import open_checkout
from gateway.pipeline import worker
from gateway.subscriptions import seats
from models import Checkout, Flag, Notification, Payment, Plan, SeatHold, Subscription, User
from models import db as _db
from tests.test_seats import payment, verified  # noqa: F401 (a fixture)

pytestmark = pytest.mark.postgres_only

RACERS = 20


def at_once(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run each job on its own thread, all released together; their results in order."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = jobs[i]()
        except Exception as e:  # kept and compared by the test
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("limit", [1, 3])
def test_members_racing_for_the_last_seats_through_the_subscribe_page(
    app, client, db, make_user, make_plan, limit
):
    """20 members click Subscribe at once: `limit` go on to PayPal, the rest see sold out."""
    make_plan("seated", seat_limit=limit)
    browsers = []
    for _ in range(RACERS):
        browser = app.test_client()  # the `client` fixture made each request run isolated
        assert browser.get(f"/_test/login/{make_user().id}").status_code == 204
        browsers.append(browser)

    def click(browser):
        def go():
            page = browser.post("/checkout/subscribe/seated")
            return page.status_code, page.data.decode()

        return go

    results = at_once([click(b) for b in browsers])
    codes = sorted(code for code, _ in results)
    assert codes == [200] * limit + [409] * (RACERS - limit), results
    refusals = [text for code, text in results if code == 409]
    assert all("Seated is sold out" in t and "Traceback" not in t for t in refusals)
    db.session.expire_all()
    held = db.session.execute(select(SeatHold.seat_no, SeatHold.checkout_id)).all()
    checkouts = db.session.scalars(select(Checkout.id)).all()
    assert sorted(n for n, _ in held) == list(range(1, limit + 1))
    assert sorted(c for _, c in held) == sorted(checkouts) and len(checkouts) == limit


def test_open_checkout_in_threads_one_winner_clean_refusals(app, db, make_user, make_plan, clock):
    """The same race one level down: open_checkout in 20 app contexts, round after round."""
    for round_no in range(5):
        plan = make_plan(f"seated-{round_no}", seat_limit=1)
        members = [make_user().id for _ in range(RACERS)]
        plan_id, now = plan.id, clock.now()

        def take(user_id: int, plan_id: int = plan_id, now: datetime = now) -> int | str:
            with app.app_context():
                try:
                    user, plan = (
                        _db.session.get_one(User, user_id),
                        _db.session.get_one(Plan, plan_id),
                    )
                    checkout = open_checkout(user, plan, now)
                    _db.session.commit()
                    return checkout.id
                except seats.SoldOut:
                    _db.session.rollback()
                    return "sold out"
                finally:
                    _db.session.remove()

        results = at_once([partial(take, m) for m in members])
        won = [r for r in results if isinstance(r, int)]
        assert len(won) == 1 and results.count("sold out") == RACERS - 1, results
        db.session.expire_all()
        assert (
            db.session.scalars(
                select(SeatHold.checkout_id).where(SeatHold.plan_id == plan_id)
            ).all()
            == won
        )
        assert (
            db.session.scalar(
                select(func.count()).select_from(Checkout).where(Checkout.plan_id == plan_id)
            )
            == 1
        )


def test_late_payments_at_once_take_distinct_overflow_seats(
    app,
    client,
    db,
    make_user,
    make_plan,
    clock,
    verified,  # noqa: F811
):
    """Nine holds lapsed one after another on a one-seat plan; their payments arrive together:
    nine subscriptions and payments, overflow seats 2..10, nine "seats" flags."""
    plan = make_plan("seated", seat_limit=1)
    tokens = []
    for i in range(10):  # each member's hold has lapsed when the next one opens
        if i:
            clock.advance(minutes=app.config["CHECKOUT_HOLD_MINUTES"] + 1)
        tokens.append(open_checkout(make_user(), plan, clock.now()).token)
        db.session.commit()
    late = tokens[:-1]
    for i, token in enumerate(late):
        body = payment(f"I-RACE{i:04d}", f"TXRACE{i:04d}", token)
        r = client.post("/paypal/ipn", data=body, content_type="application/x-www-form-urlencoded")
        assert r.status_code == 200
    ids = db.session.scalars(select(Notification.id)).all()

    def apply(note_id: int):
        def go():
            with app.app_context():
                try:
                    return worker.process_one(note_id)
                finally:
                    _db.session.remove()

        return go

    assert at_once([apply(i) for i in ids]) == [True] * len(late)
    db.session.expire_all()
    assert [n.status for n in db.session.scalars(select(Notification))] == ["processed"] * 9
    assert db.session.scalar(select(func.count()).select_from(Subscription)) == 9
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 9
    confirmed = db.session.scalars(
        select(SeatHold.seat_no).where(SeatHold.subscription_id.is_not(None))
    ).all()
    assert sorted(confirmed) == list(range(2, 11))
    held = db.session.execute(
        select(SeatHold.seat_no, Checkout.token)
        .join(Checkout)
        .where(SeatHold.held_until.is_not(None))
    ).all()
    assert held == [(1, tokens[-1])]
    assert db.session.scalars(select(Flag.kind)).all() == ["seats"] * 9
    assert seats.usage([plan.id], clock.now())[plan.id] == seats.SeatUsage(1, 9, 1, 0, 9)
