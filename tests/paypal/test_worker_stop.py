"""A stopping inbox worker claims nothing more, and gives back what it cannot finish."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import select

from gateway.pipeline import worker as inbox
from gateway.stopping import Stop
from models import Notification
from tests.paypal import ipn_builders as ipn

T = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)
BOUND = 60.0  # generous: the events below end every wait


def post(client, body: bytes) -> None:
    r = client.post("/paypal/ipn", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200


class HangingVerifier:
    """PayPal's postback hangs until released; a stop, if given, comes while it hangs."""

    def __init__(self, stop: Stop | None = None) -> None:
        self.stop, self.release = stop, threading.Event()

    def verify(self, raw: bytes) -> str:
        if self.stop is not None:
            self.stop.set("test")  # a signal arriving while the postback is in flight
        self.release.wait(BOUND)
        return "VERIFIED"


def test_a_batch_whose_postback_outlasts_the_grace_is_given_back(ready, app, client, db):
    """Stopped while its postback hangs: is the message's lease freed at once, with no
    attempt and no verdict recorded, so another worker takes it as it was?"""
    post(client, ipn.signup("I-STOP", T))
    stop = Stop(grace=0.1)
    hanging = HangingVerifier(stop)
    app.extensions["ipn_verifier"] = hanging
    try:
        assert inbox.drain(stop=stop) == 1
        assert stop.abandoned  # the postback's thread is still in flight
        db.session.expire_all()
        note = db.session.scalar(select(Notification))
        assert (note.lease_owner, note.lease_until) == (None, None)
        assert (note.status.value, note.attempts, note.verification) == ("pending", 0, None)
    finally:
        hanging.release.set()


def test_a_stopped_worker_claims_nothing(ready, client, db):
    """Once stopped, does a drain leave due messages unclaimed?"""
    post(client, ipn.signup("I-STOP", T))
    stop = Stop()
    stop.set("test")
    assert inbox.drain(stop=stop) == 0
    assert db.session.scalar(select(Notification)).lease_owner is None


def test_without_a_stop_an_unanswered_postback_is_retried_at_the_deadline(ready, app, client, db):
    """Not stopping: is a postback still unanswered at the batch's deadline a failed
    attempt, retried later (unlike a stop's give-back)?"""
    post(client, ipn.signup("I-STOP", T))
    app.config["PAYPAL_TIMEOUT"] = 0  # the batch's verification budget: 1 s
    hanging = HangingVerifier()
    app.extensions["ipn_verifier"] = hanging
    try:
        assert inbox.drain() == 1
        db.session.expire_all()
        note = db.session.scalar(select(Notification))
        assert (note.status.value, note.attempts) == ("retry", 1)
        assert "no answer within the batch's time limit" in note.error
    finally:
        hanging.release.set()
