"""Concurrent messages about one subscription serialise (PostgreSQL, real threads)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from gateway.pipeline import worker
from models import (
    Notification,
    Payment,
    Subscription,
)
from models import db as _db
from tests.inbox import process_due
from tests.paypal import ipn_builders as ipn
from tests.paypal.outcomes import final_state, wipe

T = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)
SUB = "I-RACE00000001"
ROUNDS = 25

pytestmark = pytest.mark.postgres_only


def post_all(client, bodies) -> list[int]:
    for b in bodies:
        r = client.post("/paypal/ipn", data=b, content_type="application/x-www-form-urlencoded")
        assert r.status_code == 200
    return list(_db.session.scalars(select(Notification.id).order_by(Notification.id)))


def at_once(app, ids: list[int]) -> None:
    """Each message processed by its own thread, all released together."""
    barrier, errors, claimed = threading.Barrier(len(ids)), [], []

    def one(note_id: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                claimed.append(worker.process_one(note_id))
            except Exception as e:  # reported below
                errors.append(e)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=one, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and claimed == [True] * len(ids)


def eight_messages() -> list[bytes]:
    """Signup, five renewals, a failure and a cancel: each changes the computed dates."""
    txns = [f"TXNRACE{i:09d}" for i in range(5)]
    msgs = [ipn.signup(SUB, T)]
    msgs += [ipn.payment(SUB, t, T + timedelta(days=31 * i, minutes=1)) for i, t in enumerate(txns)]
    end = T + timedelta(days=31 * 5)
    msgs.append(ipn.event(SUB, "subscr_failed", end))
    msgs.append(ipn.event(SUB, "subscr_cancel", end + timedelta(days=1)))
    assert len(msgs) == 8
    return msgs


def test_eight_different_messages_at_once_equal_the_sequential_result(ready, client, db):
    """8 different messages for one subscription, applied at once, round after round."""
    post_all(client, eight_messages())
    while process_due():
        pass
    expected = final_state(db, SUB)
    assert expected[3] is not None  # the story grants access: the comparison can tell
    for _ in range(ROUNDS):
        wipe(db)
        at_once(ready, post_all(client, eight_messages()))
        assert process_due() == 0  # nothing was left waiting
        assert final_state(db, SUB) == expected


@pytest.mark.parametrize("policy", ["end_of_period", "immediate"])
def test_refund_and_cancel_at_once_remove_the_refunded_period(ready, client, db, policy):
    """A refund and a cancel applied together: the refunded month is gone every time."""
    ready.config["CANCEL_POLICY"] = policy
    paid = [ipn.signup(SUB, T), ipn.payment(SUB, "TXNRC0000000001", T + timedelta(minutes=1))]
    for _ in range(ROUNDS * 2):
        wipe(db)
        post_all(client, paid)
        while process_due():
            pass
        db.session.expire_all()
        assert db.session.scalar(select(Subscription)).access_until is not None
        before = set(post_all(client, []))
        later = T + timedelta(days=3)
        ids = post_all(
            client,
            [
                ipn.money_back("TXNRC0000000001", "RFRC00000000001", later, "Refunded", "-9.00"),
                ipn.event(SUB, "subscr_cancel", later),
            ],
        )
        at_once(ready, [i for i in ids if i not in before])
        assert process_due() == 0
        db.session.expire_all()
        sub = db.session.scalar(select(Subscription))
        assert sub.access_until is None and sub.paid_through is None
        assert sub.state == "cancelled"


def test_a_refund_racing_its_payment_is_never_left_waiting(ready, client, db):
    """A refund applied at the same moment as its payment: applied now, not in 6 hours."""
    for i in range(ROUNDS * 2):
        wipe(db)
        post_all(client, [ipn.signup(SUB, T)])
        while process_due():
            pass
        txn = f"TXNWAKE{i:09d}"
        before = set(post_all(client, []))
        ids = post_all(
            client,
            [
                ipn.payment(SUB, txn, T + timedelta(minutes=1)),
                ipn.money_back(txn, f"RFWAKE{i:010d}", T + timedelta(hours=1), "Refunded", "-9.00"),
            ],
        )
        at_once(ready, [n for n in ids if n not in before])
        while process_due():  # a deferral the payment woke is due now
            pass
        db.session.expire_all()
        assert [n.status for n in db.session.scalars(select(Notification))] == ["processed"] * 3
        assert db.session.scalar(select(Payment)).status == "Refunded"
