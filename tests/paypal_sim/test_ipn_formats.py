"""The stand-in's IPNs against docs/paypal.md: field sets, charset bytes, dates, postback."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl

import pytest

from paypal_sim.formats import ipn_date


@pytest.mark.parametrize(
    "utc,expected",
    [
        (datetime(2026, 1, 15, 12, 0, tzinfo=UTC), "04:00:00 Jan 15, 2026 PST"),
        (datetime(2026, 7, 1, 12, 0, 5, tzinfo=UTC), "05:00:05 Jul 01, 2026 PDT"),
        # The repeated hour when DST ends: same wall time, told apart only by PDT/PST.
        (datetime(2026, 11, 1, 8, 30, tzinfo=UTC), "01:30:00 Nov 01, 2026 PDT"),
        (datetime(2026, 11, 1, 9, 30, tzinfo=UTC), "01:30:00 Nov 01, 2026 PST"),
        (datetime(2026, 3, 8, 10, 0, tzinfo=UTC), "03:00:00 Mar 08, 2026 PDT"),
    ],
)
def test_payment_date_is_pacific_with_pst_pdt(utc, expected):
    """Is payment_date written as PayPal does, in Pacific time with the right zone word?"""
    assert ipn_date(utc) == expected


def fields_of(body: bytes, charset: str = "windows-1252") -> dict[str, str]:
    return dict(parse_qsl(body.decode("ascii"), keep_blank_values=True, encoding=charset))


def ipns(paypal, listener):
    paypal.deliver()
    return [r for r in listener.received if r.path == "/ipn"]


def test_signup_and_payment_field_sets(paypal, listener):
    """Do signup and payment IPNs carry PayPal's fields, and only those that belong?"""
    sub_id = paypal.subscribe_standard(custom="tok-abc")
    signup, payment = ipns(paypal, listener)
    s, p = fields_of(signup.body), fields_of(payment.body)
    assert s["txn_type"] == "subscr_signup" and s["subscr_id"] == sub_id
    assert "txn_id" not in s and "payment_status" not in s  # docs/paypal.md §4.1
    assert s["period3"] == "1 M" and s["mc_amount3"] == "9.00" and s["recurring"] == "1"
    assert p["txn_type"] == "subscr_payment" and p["payment_status"] == "Completed"
    assert len(p["txn_id"]) == 17 and p["mc_gross"] == "9.00" and p["mc_currency"] == "USD"
    for f in (s, p):
        assert f["custom"] == "tok-abc" and f["item_number"] == "premium-monthly"
        assert f["receiver_email"] == f["business"] == "merchant@example.com"
        assert len(f["receiver_id"]) == 13
        assert f["test_ipn"] == "1" and f["charset"] == "windows-1252"
        assert f["first_name"] == "José" and f["last_name"] == "Müller"
    assert p["payment_date"].endswith(" PST")
    assert signup.headers["Content-Type"].startswith("application/x-www-form-urlencoded")


def test_charset_bytes_windows_1252_and_utf8(paypal, listener):
    """Are non-ASCII names sent in the account's charset, byte for byte?"""
    paypal.subscribe_standard(custom="a")
    body = ipns(paypal, listener)[0].body
    assert b"first_name=Jos%E9" in body and b"last_name=M%FCller" in body
    listener.received.clear()
    paypal.control("account", charset="UTF-8")
    paypal.subscribe_standard(custom="b")
    body = ipns(paypal, listener)[0].body
    assert b"first_name=Jos%C3%A9" in body and b"charset=UTF-8" in body


def test_live_mode_has_no_test_ipn(paypal, listener):
    """Does a live-mode account leave test_ipn out?"""
    paypal.control("account", sandbox=False)
    paypal.subscribe_standard()
    assert "test_ipn" not in fields_of(ipns(paypal, listener)[0].body)


def test_trial_signup_has_period1_and_no_payment(paypal, listener):
    """With a free trial, is signup sent with amount1/period1 and no payment until it ends?"""
    paypal.subscribe_standard(a1="0.00", p1="7", t1="D")
    msgs = ipns(paypal, listener)
    assert [fields_of(m.body)["txn_type"] for m in msgs] == ["subscr_signup"]
    f = fields_of(msgs[0].body)
    assert f["amount1"] == "0.00" and f["period1"] == "7 D"
    paypal.control("clock/advance", days=7)
    assert fields_of(ipns(paypal, listener)[-1].body)["txn_type"] == "subscr_payment"


def post_back(paypal, body: bytes):
    return paypal.http.post(
        paypal.url("/cgi-bin/webscr"),
        data=body,
        timeout=10,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def test_postback_verifies_only_exact_bytes(paypal, listener):
    """VERIFIED for the exact bytes with cmd prefixed; INVALID for any change."""
    paypal.subscribe_standard()
    body = ipns(paypal, listener)[1].body
    assert post_back(paypal, b"cmd=_notify-validate&" + body).text == "VERIFIED"
    pairs = body.split(b"&")
    tampered = {
        "re-ordered": b"&".join([pairs[1], pairs[0]] + pairs[2:]),
        "re-encoded as UTF-8": body.replace(b"%E9", b"%C3%A9"),
        "space as %20": body.replace(b"+", b"%20"),
        "amount changed": body.replace(b"mc_gross=9.00", b"mc_gross=0.01"),
    }
    for name, changed in tampered.items():
        assert changed != body, name
        assert post_back(paypal, b"cmd=_notify-validate&" + changed).text == "INVALID", name
    assert post_back(paypal, body + b"&cmd=_notify-validate").text == "INVALID"
    assert post_back(paypal, b"cmd=_notify-validate&txn_id=FORGED").text == "INVALID"


def test_postback_faults(paypal, listener):
    """Can the postback answer an HTML error page, INVALID, or hang (bounded) on demand?"""
    paypal.subscribe_standard()
    good = b"cmd=_notify-validate&" + ipns(paypal, listener)[1].body
    paypal.control("faults", kind="postback_html")
    r = post_back(paypal, good)
    assert r.status_code == 200 and "Fatal Failure" in r.text
    paypal.control("faults", kind="postback_invalid")
    assert post_back(paypal, good).text == "INVALID"
    paypal.control("faults", kind="postback_hang", seconds=0.3)
    import time

    started = time.monotonic()
    assert post_back(paypal, good).text == "VERIFIED"
    assert time.monotonic() - started >= 0.3
    assert post_back(paypal, good).text == "VERIFIED"  # faults are one-shot


def test_bad_button_is_an_error_page(paypal):
    """Is a button for another business, or with a bad amount, refused clearly?"""
    base = {
        "cmd": "_xclick-subscriptions",
        "business": "merchant@example.com",
        "a3": "9.00",
        "p3": "1",
        "t3": "M",
    }
    for change, text in [
        ({"business": "thief@example.com"}, "unknown business"),
        ({"a3": "abc"}, "must be numbers"),
        ({"t3": "Q"}, "t3 must be"),
    ]:
        r = paypal.http.post(paypal.url("/cgi-bin/webscr"), data={**base, **change}, timeout=5)
        assert r.status_code == 400 and text in r.text
