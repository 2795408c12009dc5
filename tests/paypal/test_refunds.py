"""Refunds exactly once, over real HTTP against the stand-in: a double submit, two admins
at once, a crash between sending and recording, a PayPal timeout — one refund each time."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
import requests
from sqlalchemy import func, select

from gateway.billing.rules.statuses import OperationStatus
from gateway.refunds import service as refunds
from models import OutboxMail, Payment, RefundOperation, SubscriptionFact
from tests.paypal.test_rest_e2e import sub_of, subscribe_and_return

KEY = "k" * 24


def sim_refunds(sim) -> list:
    return [t for t in sim.world.transactions.values() if t.kind == "refund"]


@pytest.fixture
def paid(rest, client, login_as, member, db):
    """A member with one REST payment of 9.00 and access."""
    subscribe_and_return(rest, client, login_as, member)
    rest.settle()
    payment = db.session.scalar(select(Payment))
    assert payment is not None and client.get("/premium").status_code == 200
    return payment


def refund_form(browser, payment, amount="9.00", key=KEY, reason="asked by the member"):
    return browser.post(
        f"/admin/payments/{payment.id}",
        data={"amount": amount, "reason": reason, "key": key, "confirm": "yes"},
    )


def test_full_refund_removes_the_period_and_tells_the_member(
    rest, paid, client, login_as, admin, member, db, app, sim
):
    browser = login_as(admin, browser=app.test_client())
    page = browser.get(f"/admin/payments/{paid.id}")
    assert page.status_code == 200 and b"left to refund: <strong>9.00 USD" in page.data
    r = refund_form(browser, paid)
    assert r.status_code == 303
    assert len(sim_refunds(sim)) == 1
    op = db.session.scalar(select(RefundOperation))
    assert op.status == OperationStatus.DONE and op.paypal_refund_id == sim_refunds(sim)[0].id
    assert client.get("/premium").status_code == 403  # the period it paid for is gone
    assert sub_of(db, member).state == "refunded"
    mails = db.session.scalars(select(OutboxMail)).all()
    assert any("refund" in m.subject.lower() for m in mails), [m.subject for m in mails]
    # PayPal's own webhook about the same refund changes nothing more.
    rest.settle()
    facts = db.session.scalars(
        select(SubscriptionFact).where(SubscriptionFact.kind == "refunded")
    ).all()
    assert len(facts) == 1, [(f.key, f.source) for f in facts]
    again = refund_form(browser, paid, key="z" * 24)
    assert "refunded in full already" in browser.get(again.headers["Location"]).data.decode()
    assert len(sim_refunds(sim)) == 1


def test_a_refund_is_confirmed_on_its_own_page(paid, login_as, admin, db, app, sim):
    """Does the confirmation page say what a refund does, and does a POST without the
    confirmation (an old page's one click) send nothing?"""
    browser = login_as(admin, browser=app.test_client())
    page = browser.get(f"/admin/payments/{paid.id}").data.decode()
    assert f'method="get" action="/admin/payments/{paid.id}/refund"' in page
    ask = {"amount": "9.00", "reason": "asked by the member"}
    full = browser.get(f"/admin/payments/{paid.id}/refund", query_string=ask).data.decode()
    assert "Refund 9.00 USD of payment" in full and "removes the period it bought" in full
    assert "now (nothing is paid for)" in full and 'name="confirm" value="yes"' in full
    partial = browser.get(
        f"/admin/payments/{paid.id}/refund", query_string=ask | {"amount": "4.00"}
    ).data.decode()
    assert "a partial refund keeps the period" in partial
    too_much = browser.get(
        f"/admin/payments/{paid.id}/refund", query_string=ask | {"amount": "9.01"}
    )
    assert too_much.status_code == 303
    r = browser.post(f"/admin/payments/{paid.id}", data=ask | {"key": KEY})
    assert r.status_code == 303 and f"/admin/payments/{paid.id}/refund?" in r.headers["Location"]
    assert sim_refunds(sim) == [] and db.session.scalar(select(RefundOperation)) is None


def test_double_submit_is_one_refund(paid, login_as, admin, db, app, sim):
    browser = login_as(admin, browser=app.test_client())
    for _ in range(3):
        assert refund_form(browser, paid, amount="4.00").status_code == 303
    assert len(sim_refunds(sim)) == 1
    assert db.session.scalar(select(func.count()).select_from(RefundOperation)) == 1
    page = browser.get(f"/admin/payments/{paid.id}").data.decode()
    assert "left to refund: <strong>5.00 USD" in page  # a partial refund keeps the period


def test_two_admins_one_after_the_other_cannot_refund_twice(
    paid, login_as, admin, make_user, db, app, sim
):
    first = login_as(admin, browser=app.test_client())
    second = login_as(make_user("admin2@example.com", is_admin=True), browser=app.test_client())
    assert refund_form(first, paid, key="a" * 24).status_code == 303
    r = refund_form(second, paid, key="b" * 24)
    follow = second.get(r.headers["Location"]).data.decode()
    assert "refunded in full already" in follow
    assert len(sim_refunds(sim)) == 1


@pytest.mark.postgres_only
def test_two_admins_at_the_same_moment_refund_once(paid, admin, make_user, db, app, sim):
    """Real threads, each its own browser and database session, released together."""
    admins = [admin, make_user("admin2@example.com", is_admin=True)]
    admins += [make_user(f"admin{i}@example.com", is_admin=True) for i in range(3, 7)]
    browsers = []
    for user in admins:
        b = app.test_client()
        assert b.get(f"/_test/login/{user.id}").status_code == 204
        browsers.append(b)
    barrier = threading.Barrier(len(browsers))
    codes: list[int] = []
    payment_id = paid.id

    def go(i: int, browser) -> None:
        barrier.wait()
        r = browser.post(
            f"/admin/payments/{payment_id}",
            data={"amount": "9.00", "reason": "both at once", "key": f"{i}" * 24, "confirm": "yes"},
        )
        codes.append(r.status_code)

    threads = [threading.Thread(target=go, args=(i, b)) for i, b in enumerate(browsers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert codes == [303] * len(browsers)  # every admin gets an answer, none an error
    assert len(sim_refunds(sim)) == 1
    done = db.session.scalars(
        select(RefundOperation).where(RefundOperation.status == OperationStatus.DONE)
    ).all()
    assert len(done) == 1


def test_crash_after_sending_before_recording_refunds_once(
    paid, admin, db, app, sim, clock, monkeypatch
):
    """The process dies after PayPal refunded and before the answer was recorded: the
    operation stays open; the settle job asks again with the same request id."""

    def crash(*args, **kwargs):
        raise SystemExit("killed between PayPal's answer and our commit")

    monkeypatch.setattr(refunds, "finish", crash)
    with pytest.raises(SystemExit):
        refunds.request_refund(paid, Decimal("9.00"), "crash test", admin, KEY, clock.now())
    db.session.rollback()
    assert len(sim_refunds(sim)) == 1  # PayPal did it
    op = db.session.scalar(select(RefundOperation))
    assert op.status == OperationStatus.OPEN and op.attempts == 1  # we do not know yet

    monkeypatch.undo()
    assert "0 open refund(s) sent again" in refunds.settle_open(clock.now())  # in flight
    clock.advance(minutes=3)
    summary = refunds.settle_open(clock.now())
    assert "1 finished" in summary, summary
    db.session.expire_all()
    op = db.session.scalar(select(RefundOperation))
    assert op.status == OperationStatus.DONE and op.paypal_refund_id == sim_refunds(sim)[0].id
    assert len(sim_refunds(sim)) == 1


class AnswerLost(requests.adapters.HTTPAdapter):
    """PayPal receives and performs the request; its answer never reaches us."""

    def send(self, request, *args, **kwargs):
        super().send(request, *args, **kwargs)
        raise requests.ReadTimeout("answer lost")


def test_paypal_timeout_refunds_once(paid, admin, db, app, sim, clock):
    api = app.extensions["paypal_api"]
    api.token()  # a token first: only the refund's answers are lost
    api.http.mount("http://", AnswerLost())
    api._sleep = lambda s: None
    op = refunds.request_refund(paid, Decimal("9.00"), "timeout test", admin, KEY, clock.now())
    assert op.status == OperationStatus.OPEN and "no answer" in (op.error or "")
    assert len(sim_refunds(sim)) == 1  # sent 4 times (retries), performed once

    api.http.mount("http://", requests.adapters.HTTPAdapter())
    clock.advance(minutes=5)
    refunds.settle_open(clock.now())
    db.session.expire_all()
    op = db.session.get(RefundOperation, op.id)
    assert op.status == OperationStatus.DONE
    assert len(sim_refunds(sim)) == 1


def test_paypal_refusal_is_shown_and_nothing_moves(paid, login_as, admin, db, app, sim):
    sim.refund(sim.world.transaction(paid.txn_id))  # refunded at PayPal behind our back
    browser = login_as(admin, browser=app.test_client())
    r = refund_form(browser, paid)
    page = browser.get(r.headers["Location"]).data.decode()
    assert "PayPal refused the refund" in page and "REFUND_EXCEEDED" in page
    op = db.session.scalar(select(RefundOperation))
    assert op.status == OperationStatus.FAILED
    assert len(sim_refunds(sim)) == 1  # only PayPal's own


@pytest.mark.parametrize("amount", ["0", "-1", "9.01", "abc"])
def test_bad_amounts_are_refused_clearly(paid, login_as, admin, db, app, sim, amount):
    browser = login_as(admin, browser=app.test_client())
    r = refund_form(browser, paid, amount=amount)
    assert r.status_code in (200, 303)
    if r.status_code == 303:
        assert "left to refund" in browser.get(r.headers["Location"]).data.decode()
    assert sim_refunds(sim) == []


def test_members_cannot_refund(paid, client, db, sim):
    assert refund_form(client, paid).status_code == 403
    assert sim_refunds(sim) == []
