"""Any order, any repeats: the same messages always reach the same state (Hypothesis),
and concurrent deliveries and workers have exactly one effect (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from gateway.reconciliation.rebuild import rebuild
from models import Notification, Payment, Subscription, SubscriptionFact
from models import db as _db
from tests.inbox import process_due
from tests.paypal import ipn_builders as ipn
from tests.paypal.outcomes import final_state, wipe
from tests.servers import serve

T = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)
SUB = "I-PROPERTY0001"


def deliver_all(client, bodies) -> None:
    for b in bodies:
        r = client.post("/paypal/ipn", data=b, content_type="application/x-www-form-urlencoded")
        assert r.status_code == 200
    while process_due():
        pass


@st.composite
def stories(draw):
    """A subscription's messages in the order PayPal meant them."""
    n = draw(st.integers(1, 4))
    msgs = [ipn.signup(SUB, T)]
    txns = [f"TXN{i:014d}" for i in range(n)]
    for i, txn in enumerate(txns):
        msgs.append(ipn.payment(SUB, txn, T + timedelta(days=30 * i, minutes=1)))
    end = T + timedelta(days=30 * n)
    if draw(st.booleans()):
        msgs.append(ipn.event(SUB, "subscr_failed", end))
    victim = draw(st.sampled_from(txns))
    back = draw(st.sampled_from(["none", "refund", "reversal", "reversal+cancel", "partial"]))
    if back == "refund":
        msgs.append(ipn.money_back(victim, "RF" + victim[3:], end, "Refunded", "-9.00"))
    elif back == "partial":
        msgs.append(ipn.money_back(victim, "RF" + victim[3:], end, "Refunded", "-3.00"))
    elif back.startswith("reversal"):
        msgs.append(ipn.money_back(victim, "RV" + victim[3:], end, "Reversed", "-9.00"))
        if back == "reversal+cancel":
            msgs.append(
                ipn.money_back(
                    victim, "CR" + victim[3:], end + timedelta(days=9), "Canceled_Reversal", "9.00"
                )
            )
    if draw(st.booleans()):
        msgs.append(ipn.event(SUB, "subscr_cancel", end + timedelta(days=1)))
        if draw(st.booleans()):
            msgs.append(ipn.event(SUB, "subscr_eot", end + timedelta(days=2)))
    return msgs


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(story=stories(), rnd=st.randoms(use_true_random=False))
def test_shuffled_duplicated_redelivered_same_state(ready, client, db, clock, story, rnd):
    """Do shuffled, duplicated and re-delivered messages reach the in-order state?"""
    wipe(db)
    deliver_all(client, story)
    expected = final_state(db, SUB)
    wipe(db)
    delivered = story + [rnd.choice(story) for _ in range(rnd.randint(0, len(story)))]
    rnd.shuffle(delivered)
    half = rnd.randint(0, len(delivered))
    deliver_all(client, delivered[:half])
    deliver_all(client, delivered[half:] + delivered[: rnd.randint(0, half)])  # re-deliveries
    assert final_state(db, SUB) == expected
    report = rebuild(clock.now())  # replaying the stored messages changes nothing
    assert report.differences == [] and report.checked == 1


@pytest.mark.postgres_only
def test_same_ipn_at_once_many_threads_many_workers(ready, db):
    """The same IPNs POSTed by 8 threads at once and processed by 4 workers: one effect."""
    bodies = [ipn.signup(SUB, T), ipn.payment(SUB, "TXNCONCURRENT001", T)]
    app = ready
    with serve(app) as url:
        barrier = threading.Barrier(16)
        answers = []

        def post(b):
            barrier.wait()
            answers.append(
                requests.post(
                    f"{url}/paypal/ipn",
                    data=b,
                    timeout=10,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                ).status_code
            )

        threads = [threading.Thread(target=post, args=(b,)) for b in bodies * 8]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert answers == [200] * 16

    start = threading.Barrier(4)
    errors = []

    def work():
        with app.app_context():
            try:
                start.wait()
                while process_due(limit=3):
                    pass
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)
            finally:
                _db.session.remove()

    workers = [threading.Thread(target=work) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    db.session.expire_all()
    notes = db.session.scalars(select(Notification)).all()
    assert len(notes) == 16 and all(n.status == "processed" for n in notes)
    assert len(db.session.scalars(select(Subscription)).all()) == 1
    assert len(db.session.scalars(select(Payment)).all()) == 1
    facts = db.session.scalars(select(SubscriptionFact.kind)).all()
    assert sorted(facts) == ["payment_completed", "started"]
    assert sum("already applied" in n.outcome for n in notes) == 14
