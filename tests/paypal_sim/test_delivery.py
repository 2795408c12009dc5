"""IPN delivery like PayPal: doubling retries for about 4 days, and injected faults."""

from __future__ import annotations

import threading
from datetime import timedelta

from paypal_sim.delivery import retry_interval


def expected_ipn_offsets() -> list[int]:
    """Seconds after the first try at which PayPal tries again, until it gives up (~4 days)."""
    offsets, t, n = [0], 0, 1
    while True:
        t += int(retry_interval("ipn", n).total_seconds())
        if t > 4 * 86400:
            return offsets
        offsets.append(t)
        n += 1


def test_retry_schedule_doubles_then_caps_and_gives_up(paypal, listener, sim):
    """Are failed IPNs resent at 10 s, 20 s, 40 s ... capped at 24 h, stopping after 4 days?"""
    assert expected_ipn_offsets()[:5] == [0, 10, 30, 70, 150]
    listener.answer(*[500] * 100)
    paypal.subscribe_standard()
    start = sim.clock.now()
    signup = sim.outbox.messages[0]
    while signup.state == "queued":
        sim.clock.advance(max(signup.next_attempt - sim.clock.now(), timedelta(0)))
        paypal.deliver()
    offsets = [int((a.at - start).total_seconds()) for a in sim.outbox.log if a.message_id == 1]
    assert offsets == expected_ipn_offsets()
    assert len(offsets) == 17  # the first try and 16 re-sends
    assert sim.outbox.messages[0].state == "failed"
    assert all(a.status == 500 for a in sim.outbox.log if a.message_id == 1)


def test_success_stops_retries(paypal, listener, sim):
    """Does a 200 after failures end the re-sends for that message?"""
    listener.answer(503, 500)
    paypal.subscribe_standard()
    paypal.deliver()  # signup 503, payment 500
    paypal.control("clock/advance", seconds=10)
    paypal.deliver()  # both 200 now
    paypal.control("clock/advance", days=1)
    paypal.deliver()
    assert [m.state for m in sim.outbox.messages] == ["delivered", "delivered"]
    assert len(listener.received) == 4


def test_a_hanging_listener_is_a_failed_attempt(paypal, sim, listener):
    """Is a listener that does not answer in time treated as a failure to retry?"""
    sim.outbox.timeout = 0.2
    slow, release = threading.Event(), threading.Event()
    original = listener.app.view_functions["hook"]

    def hang(path):
        if not slow.is_set():
            slow.set()
            release.wait(60)  # until PayPal's side has given up on it
        return original(path)

    listener.app.view_functions["hook"] = hang
    paypal.subscribe_standard()
    try:
        paypal.deliver()
    finally:
        release.set()
    first = sim.outbox.log[0]
    assert first.status is None and "Timeout" in first.note
    assert sim.outbox.messages[0].next_attempt == sim.outbox.messages[0].created + timedelta(
        seconds=10
    )


def labels(listener):
    from urllib.parse import parse_qsl

    out = []
    for r in listener.received:
        f = dict(parse_qsl(r.body.decode("ascii"), encoding="windows-1252"))
        out.append(f.get("txn_type"))
    return out


def test_fault_drop(paypal, listener, sim):
    """Does a drop fault lose the next message for good?"""
    paypal.control("faults", kind="drop")
    paypal.subscribe_standard()
    paypal.deliver()
    assert labels(listener) == ["subscr_payment"]
    assert sim.outbox.log[0].note.startswith("dropped")


def test_fault_duplicate(paypal, listener):
    """Does a duplicate fault deliver the same bytes twice?"""
    paypal.control("faults", kind="duplicate")
    paypal.subscribe_standard()
    paypal.deliver()
    assert labels(listener) == ["subscr_signup", "subscr_signup", "subscr_payment"]
    assert listener.received[0].body == listener.received[1].body


def test_fault_reorder(paypal, listener):
    """Does a reorder fault deliver the payment before the signup?"""
    paypal.control("faults", kind="reorder")
    paypal.subscribe_standard()
    paypal.deliver()
    assert labels(listener) == ["subscr_payment", "subscr_signup"]


def test_fault_delay(paypal, listener):
    """Does a delay fault hold the message for the given time?"""
    paypal.control("faults", kind="delay", seconds=3600)
    paypal.subscribe_standard()
    paypal.deliver()
    assert labels(listener) == ["subscr_payment"]
    paypal.control("clock/advance", hours=1)
    paypal.deliver()
    assert labels(listener) == ["subscr_payment", "subscr_signup"]


def test_fault_concurrent(paypal, listener, sim):
    """Does a concurrent fault send the same message twice at the same moment?"""
    paypal.control("faults", kind="concurrent")
    paypal.subscribe_standard()
    paypal.deliver()
    assert labels(listener).count("subscr_signup") == 2
    assert "sent twice at once" in sim.outbox.log[0].note


def test_unknown_fault_is_refused(paypal):
    """Is an unknown fault name a 400 with a message?"""
    r = paypal.http.post(paypal.url("/sim/api/faults"), json={"kind": "gremlins"}, timeout=5)
    assert r.status_code == 400 and "unknown fault" in r.json()["error"]


def test_delivery_log_api(paypal, listener):
    """Does the delivery log list every attempt with its answer?"""
    listener.answer(500)
    paypal.subscribe_standard()
    paypal.deliver()
    log = paypal.http.get(paypal.url("/sim/api/deliveries"), timeout=5).json()
    assert [(a["label"], a["status"]) for a in log["attempts"]] == [
        ("subscr_signup", 500),
        ("subscr_payment Completed", 200),
    ]
    assert log["messages"][0]["state"] == "queued"
