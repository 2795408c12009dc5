"""The site and the scheduler alone (no manual worker): messages still get applied, retried
and woken, and no page waits on PayPal."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import requests
from sqlalchemy import select

from models import Notification, Payment, Subscription
from tests.paypal import ipn_builders as ipn
from tests.servers import serve

T = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)


def wait_until(check: Callable[[], bool], db, limit: float = 15.0) -> None:
    """Poll another thread's progress (bounded); the app's clock is moved, never slept on."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        db.session.rollback()  # see the scheduler thread's commits
        if check():
            return
        time.sleep(0.02)
    raise AssertionError("the scheduler did not get there in time")


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
    """With PayPal's postback hanging, the site and the IPN endpoint still answer at once."""
    app.config["PAYPAL_TIMEOUT"] = 5
    app.extensions.pop("ipn_verifier", None)
    live.paypal.control("faults", kind="postback_hang", seconds=3)
    live.subscribe(client, login_as, member)
    live.paypal.deliver()  # PayPal sends the IPNs; the scheduler starts verifying them
    live.clock.advance(seconds=1)
    wait_until(lambda: _claimed(db) == 2, db, limit=5)  # the batch is being verified
    started = time.monotonic()
    assert requests.get(f"{live.url}/plans", timeout=5).status_code == 200
    post(live.url, b"txn_type=web_accept&txn_id=X")
    assert time.monotonic() - started < 1.0  # the hang lasts 3 s
    assert statuses(db).count("processed") < 2  # still hanging: the answers did not wait
    live.clock.advance(seconds=1)
    wait_until(lambda: statuses(db)[:2] == ["processed", "processed"], db)


def _claimed(db) -> int:
    return len(
        db.session.scalars(select(Notification).where(Notification.lease_owner.is_not(None))).all()
    )
