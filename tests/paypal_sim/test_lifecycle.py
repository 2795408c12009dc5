"""Renewals on the stand-in's clock, failures, cancel, end of term, refunds, reversals."""

from __future__ import annotations

from urllib.parse import parse_qsl


def messages(paypal, listener) -> list[dict[str, str]]:
    paypal.deliver()
    out = [
        dict(parse_qsl(r.body.decode("ascii"), encoding="windows-1252"))
        for r in listener.received
        if r.path == "/ipn"
    ]
    listener.received.clear()
    return out


def kinds(msgs) -> list[str]:
    return [m.get("txn_type") or m["payment_status"] for m in msgs]


def test_renewals_follow_the_calendar(paypal, listener):
    """Does advancing the clock bill each month on its anchor date (31 Jan -> 28 Feb)?"""
    paypal.control("clock/advance", days=16)  # 15 Jan + 16 d = 31 Jan
    paypal.subscribe_standard()
    first = messages(paypal, listener)
    assert kinds(first) == ["subscr_signup", "subscr_payment"]
    assert first[1]["payment_date"].startswith("04:00:00 Jan 31, 2026")
    paypal.control("clock/advance", days=59)  # to 31 March
    renewals = messages(paypal, listener)
    assert kinds(renewals) == ["subscr_payment", "subscr_payment"]
    assert renewals[0]["payment_date"].startswith("04:00:00 Feb 28, 2026")
    assert renewals[1]["payment_date"].startswith("05:00:00 Mar 31, 2026 PDT")
    assert len({m["txn_id"] for m in first[1:] + renewals}) == 3


def test_failed_renewal_retries_then_recovers(paypal, listener):
    """Does a failed renewal send subscr_failed with retry_at, then pay on the retry?"""
    sub_id = paypal.subscribe_standard()
    messages(paypal, listener)
    paypal.control(f"subscriptions/{sub_id}/fail-next")
    paypal.control("clock/advance", days=31)
    failed = messages(paypal, listener)
    assert kinds(failed) == ["subscr_failed"]
    assert failed[0]["retry_at"].startswith("04:00:00 Feb 18, 2026")
    paypal.control("clock/advance", days=3)
    assert kinds(messages(paypal, listener)) == ["subscr_payment"]


def test_too_many_failures_end_the_subscription(paypal, listener):
    """After the third failure, does PayPal send subscr_failed and subscr_eot together?"""
    sub_id = paypal.subscribe_standard()
    messages(paypal, listener)
    paypal.control(f"subscriptions/{sub_id}/fail-next", count=3)
    paypal.control("clock/advance", days=31 + 3 + 3)
    msgs = messages(paypal, listener)
    assert kinds(msgs) == ["subscr_failed", "subscr_failed", "subscr_failed", "subscr_eot"]
    assert "retry_at" not in msgs[2]
    paypal.control("clock/advance", days=60)
    assert messages(paypal, listener) == []


def test_cancel_then_end_of_term_at_period_end(paypal, listener, sim):
    """Cancel sends subscr_cancel now and subscr_eot when the paid month ends."""
    sub_id = paypal.subscribe_standard()
    messages(paypal, listener)
    paypal.control("clock/advance", days=10)
    paypal.control(f"subscriptions/{sub_id}/cancel")
    assert kinds(messages(paypal, listener)) == ["subscr_cancel"]
    paypal.control("clock/advance", days=20)  # 4 Feb: paid until 15 Feb
    assert messages(paypal, listener) == []
    paypal.control("clock/advance", days=12)
    eot = messages(paypal, listener)
    assert kinds(eot) == ["subscr_eot"] and "subscr_date" not in eot[0]


def test_limited_cycles_end_with_eot(paypal, listener):
    """With srt=2, are exactly two payments taken and then the term ended?"""
    paypal.subscribe_standard(srt="2")
    paypal.control("clock/advance", days=100)
    assert kinds(messages(paypal, listener)) == [
        "subscr_signup",
        "subscr_payment",
        "subscr_payment",
        "subscr_eot",
    ]


def test_refund_reversal_and_cancelled_reversal(paypal, listener):
    """Do refunds and reversals carry parent_txn_id, a negative gross and no txn_type?"""
    paypal.subscribe_standard()
    pay = messages(paypal, listener)[1]
    paypal.control("clock/advance", days=31)
    second = messages(paypal, listener)[0]
    refund = paypal.control(f"transactions/{pay['txn_id']}/refund")
    reversal = paypal.control(f"transactions/{second['txn_id']}/reverse")
    back = paypal.control(f"transactions/{second['txn_id']}/cancel-reversal")
    msgs = messages(paypal, listener)
    assert kinds(msgs) == ["Refunded", "Reversed", "Canceled_Reversal"]
    r, v, c = msgs
    assert "txn_type" not in r and "subscr_id" not in r
    assert r["parent_txn_id"] == pay["txn_id"] and r["mc_gross"] == "-9.00"
    assert r["reason_code"] == "refund" and r["txn_id"] == refund["id"]
    assert v["parent_txn_id"] == second["txn_id"] and v["mc_gross"] == "-9.00"
    assert v["reason_code"] == "chargeback" and v["case_type"] == "chargeback"
    assert c["mc_gross"] == "9.00" and c["txn_id"] == back["id"] != reversal["id"]


def test_partial_refund_and_overrefund(paypal, listener):
    """Is a partial refund allowed, and a refund beyond what is left refused?"""
    paypal.subscribe_standard()
    pay = messages(paypal, listener)[1]
    paypal.control(f"transactions/{pay['txn_id']}/refund", amount="4.00")
    r = paypal.http.post(
        paypal.url(f"/sim/api/transactions/{pay['txn_id']}/refund"),
        json={"amount": "6.00"},
        timeout=5,
    )
    assert r.status_code == 409 and "exceeds" in r.json()["error"]
    assert messages(paypal, listener)[0]["mc_gross"] == "-4.00"


def test_recurring_payment_style(paypal, listener):
    """Can a subscription announce itself with the recurring_payment* family?"""
    sub_id = paypal.subscribe_standard(ipn_style="recurring")
    paypal.control(f"subscriptions/{sub_id}/fail-next", count=3)
    paypal.control("clock/advance", days=31 + 3 + 3)
    msgs = messages(paypal, listener)
    assert kinds(msgs) == [
        "recurring_payment_profile_created",
        "recurring_payment",
        "recurring_payment_skipped",
        "recurring_payment_failed",
        "recurring_payment_suspended_due_to_max_failed_payment",
    ]
    assert all(m["recurring_payment_id"] == sub_id for m in msgs)
    assert msgs[1]["payment_status"] == "Completed" and msgs[1]["period_type"] == " Regular"


def test_modify_and_suspend_messages(paypal, listener):
    """Are subscr_modify and an admin suspension announced?"""
    sub_id = paypal.subscribe_standard()
    messages(paypal, listener)
    paypal.control(f"subscriptions/{sub_id}/modify")
    paypal.control(f"subscriptions/{sub_id}/suspend")
    msgs = messages(paypal, listener)
    assert kinds(msgs) == ["subscr_modify", "recurring_payment_suspended"]
    assert "subscr_effective" in msgs[0] and msgs[1]["recurring_payment_id"] == sub_id


def test_control_refuses_bad_requests(paypal):
    """Are unknown ids and impossible actions clear 404/409 answers?"""
    r = paypal.http.post(paypal.url("/sim/api/subscriptions/I-NOPE/cancel"), json={}, timeout=5)
    assert r.status_code == 404
    sub_id = paypal.subscribe_standard()
    paypal.control(f"subscriptions/{sub_id}/cancel")
    r = paypal.http.post(paypal.url(f"/sim/api/subscriptions/{sub_id}/cancel"), json={}, timeout=5)
    assert r.status_code == 409
    r = paypal.http.post(paypal.url("/sim/api/account"), json={"charset": "klingon"}, timeout=5)
    assert r.status_code == 400


def test_control_page_renders(paypal):
    """Does the control page list subscriptions, transactions and deliveries?"""
    paypal.subscribe_standard()
    page = paypal.http.get(paypal.url("/sim/"), timeout=5)
    assert page.status_code == 200 and "Subscriptions" in page.text and "I-" in page.text
