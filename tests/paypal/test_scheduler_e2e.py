"""The site and the scheduler alone (no manual worker): messages still get applied, retried
and woken, and no page waits on PayPal."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import requests
from flask import request
from sqlalchemy import select

from models import Notification, Payment, Subscription
from tests.paypal import ipn_builders as ipn
from tests.servers import serve

T = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)
#: A last resort only, generous for a busy machine: the state looked for ends every wait.
BOUND = 120.0


def wait_until(check: Callable[[], bool], db) -> None:
    """Poll the scheduler thread's progress until `check` holds; the app's clock is moved,
    never slept on."""
    end = time.monotonic() + BOUND
    while True:
        db.session.rollback()  # see the scheduler thread's commits
        if check():
            return
        assert time.monotonic() < end, f"the scheduler did not get there: {statuses(db)}"
        time.sleep(0.02)


def statuses(db) -> list[str]:
    return [
        n.status.value for n in db.session.scalars(select(Notification).order_by(Notification.id))
    ]


def post(url: str, body: bytes) -> None:
    r = requests.post(
        f"{url}/paypal/ipn",
        data=body,
        timeout=5,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200


class ScriptedVerifier:
    """PayPal's postback answers, in order; then VERIFIED."""

    def __init__(self, *answers: str) -> None:
        self.answers, self.calls = list(answers), 0

    def verify(self, raw: bytes) -> str:
        self.calls += 1
        return self.answers.pop(0) if self.answers else "VERIFIED"


def test_refund_before_payment_and_a_failed_postback_without_a_worker(
    ready, app, db, clock, scheduler
):
    """Web app + scheduler only: a refund waits for its payment; a failed postback retries."""
    app.extensions["ipn_verifier"] = ScriptedVerifier("HTTP 500: 'Fatal Failure'")
    with serve(app) as url:
        post(url, ipn.money_back("TXNSCHED00000001", "RFSCHED00000001", T, "Refunded", "-9.00"))
        clock.advance(seconds=1)
        wait_until(lambda: statuses(db) == ["retry"], db)  # its postback failed
        clock.advance(minutes=2)  # past the backoff: the scheduler tries again
        wait_until(lambda: statuses(db) == ["deferred"], db)  # verified; no payment yet
        post(url, ipn.signup("I-SCHED", T))
        post(url, ipn.payment("I-SCHED", "TXNSCHED00000001", T))
        clock.advance(seconds=1)
        wait_until(lambda: statuses(db) == ["processed"] * 3, db)
    assert db.session.scalar(select(Payment)).status == "Refunded"
    assert db.session.scalar(select(Subscription)).access_until is None


def test_pages_answer_while_the_postback_hangs(
    live, client, login_as, member, premium, db, app, scheduler
):
    """With PayPal's postback hanging, do the site and the IPN endpoint still answer?"""
    app.config["PAYPAL_TIMEOUT"] = BOUND  # the hang ends when the test says, not on a timer
    app.extensions.pop("ipn_verifier", None)
    hanging, release = hang_postbacks(live.sim_app)
    try:
        live.subscribe(client, login_as, member)
        live.paypal.deliver()  # PayPal sends the IPNs; the scheduler starts verifying them
        live.clock.advance(seconds=1)
        assert hanging.wait(BOUND)  # a postback is at PayPal, unanswered until released
        wait_until(lambda: _claimed(db) == 2, db)  # the batch is being verified
        assert requests.get(f"{live.url}/plans", timeout=30).status_code == 200
        post(live.url, b"txn_type=web_accept&txn_id=X")
        assert statuses(db).count("processed") == 0  # the answers did not wait for it
    finally:
        release.set()
    live.clock.advance(seconds=1)
    wait_until(lambda: statuses(db)[:2] == ["processed", "processed"], db)


def hang_postbacks(sim_app) -> tuple[threading.Event, threading.Event]:
    """The stand-in's postbacks hang until `release` is set; `hanging` is set by the first."""
    hanging, release = threading.Event(), threading.Event()
    answer = sim_app.view_functions["standard.webscr"]

    def webscr():
        if b"cmd=_notify-validate" in request.get_data(cache=True):
            hanging.set()
            release.wait(BOUND)
        return answer()

    sim_app.view_functions["standard.webscr"] = webscr
    return hanging, release


def _claimed(db) -> int:
    return len(
        db.session.scalars(select(Notification).where(Notification.lease_owner.is_not(None))).all()
    )
