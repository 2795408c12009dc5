"""Every check before an effect: a failed one flags and never grants access."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from gateway.pipeline import worker as inbox
from models import Flag, Notification, Payment, Subscription
from tests.inbox import process_due


def post_ipn(client, fields: list[tuple[str, str]], charset="windows-1252") -> bytes:
    from paypal_sim.formats import encode_form

    body = encode_form(fields, charset)
    r = client.post("/paypal/ipn", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200 and r.data == b""
    return body


def payment(**over) -> list[tuple[str, str]]:
    base = {
        "txn_type": "subscr_payment",
        "subscr_id": "I-CHECKS00001",
        "payment_date": "04:00:00 Jan 15, 2026 PST",
        "mc_gross": "9.00",
        "mc_currency": "USD",
        "payment_status": "Completed",
        "txn_id": "TXNCHECKS00000001",
        "item_number": "premium-monthly",
        "custom": "",
        "business": "merchant@example.com",
        "receiver_email": "merchant@example.com",
        "receiver_id": "SIMMERCHANT01",
        "test_ipn": "1",
        "charset": "windows-1252",
        "ipn_track_id": "abc123",
    }
    base.update(over)
    return [(k, v) for k, v in base.items() if v is not None]


@pytest.mark.parametrize(
    "change,kind,text",
    [
        (
            {
                "receiver_email": "thief@example.com",
                "business": "thief@example.com",
                "receiver_id": "OTHER",
            },
            "receiver",
            "receiver is not us",
        ),
        ({"mc_currency": "EUR"}, "amount", "currency EUR does not match the terms (9.00 USD"),
        ({"mc_gross": "0.01"}, "amount", "amount 0.01 USD (tax 0) does not match"),
    ],
)
def test_failed_check_flags_without_access(client, db, make_plan, verified, change, kind, text):
    """Does each failed check raise a flag that says what did not match, and grant nothing?"""
    make_plan("premium-monthly", role="premium")
    post_ipn(client, payment(**change))
    process_due()
    note = db.session.scalar(select(Notification))
    flag = db.session.scalar(select(Flag))
    assert note.status == "flagged" and flag.kind == kind and text in flag.message
    assert flag.notification_id == note.id
    subs = db.session.scalars(select(Subscription)).all()
    assert all(s.access_until is None for s in subs)


@pytest.mark.parametrize(
    "when",
    ["Thu Jan 15 2026 04:00:00 GMT-0800 (PST)", "04:00:00 15 Jan 2026 PST"],
)
def test_other_paypal_date_formats_are_read(client, db, make_plan, verified, when):
    """The IPN simulator's JavaScript date and the day-first form: read, no flag."""
    make_plan("premium-monthly", role="premium")
    post_ipn(client, payment(payment_date=when))
    process_due()
    pay = db.session.scalar(select(Payment))
    assert pay.paid_at == datetime(2026, 1, 15, 12, tzinfo=UTC)
    assert [f.kind for f in db.session.scalars(select(Flag))] == ["unclaimed"]  # no "date"


def test_an_unreadable_date_still_applies_and_flags(client, db, make_plan, verified, clock):
    """A payment and its refund with dates nobody can read: both applied, dated by receipt."""
    make_plan("premium-monthly", role="premium")
    post_ipn(client, payment(payment_date="yesterday-ish"))
    refund = payment(
        txn_type=None,
        payment_date="??",
        payment_status="Refunded",
        mc_gross="-9.00",
        parent_txn_id="TXNCHECKS00000001",
        txn_id="RFCHECKS00000001",
    )
    post_ipn(client, refund)
    while process_due():
        pass
    notes = db.session.scalars(select(Notification)).all()
    assert [n.status for n in notes] == ["processed", "processed"]
    assert db.session.scalar(select(Payment)).paid_at == clock.now()
    assert db.session.scalar(select(Payment)).status == "Refunded"
    assert db.session.scalar(select(Subscription)).access_until is None
    flags = db.session.scalars(select(Flag).where(Flag.kind == "date").order_by(Flag.id)).all()
    assert len(flags) == 2
    assert "unreadable date" in flags[0].message and "yesterday-ish" in flags[0].message


def test_tax_is_set_aside(client, db, make_plan, verified):
    """Is a payment of price + tax accepted?"""
    make_plan("premium-monthly", role="premium")
    post_ipn(client, payment(mc_gross="10.80", tax="1.80"))
    process_due()
    assert db.session.scalar(select(Notification)).status == "processed"


def test_sandbox_message_in_live_mode(app, client, db, make_plan, verified):
    """In live mode, is a test_ipn=1 message flagged, with no effect?"""
    app.config["PAYPAL_MODE"] = "live"
    make_plan("premium-monthly", role="premium")
    post_ipn(client, payment())
    process_due()
    flag = db.session.scalar(select(Flag))
    assert flag.kind == "environment" and "reached the live site" in flag.message
    assert db.session.scalar(select(Subscription)) is None


def test_live_message_in_sandbox_mode(app, client, db, make_plan, verified):
    """In sandbox mode, is a live message (no test_ipn) flagged, with no effect?"""
    app.config["PAYPAL_MODE"] = "sandbox"
    make_plan("premium-monthly", role="premium")
    post_ipn(client, payment(test_ipn=None))
    process_due()
    flag = db.session.scalar(select(Flag))
    assert flag.kind == "environment" and "reached the sandbox site" in flag.message
    assert db.session.scalar(select(Subscription)) is None
    post_ipn(client, payment(txn_id="TXNSANDBOX000002"))  # a sandbox one is fine there
    process_due()
    assert db.session.scalar(select(Subscription)) is not None


def test_invalid_postback_is_kept_without_effect(app, client, db, make_plan, verified):
    """An INVALID answer: message kept as invalid, nothing applied, no retries."""
    verified.answer = "INVALID"
    make_plan("premium-monthly", role="premium")
    post_ipn(client, payment())
    process_due()
    note = db.session.scalar(select(Notification))
    assert note.status == "invalid" and note.verification == "INVALID"
    assert db.session.scalar(select(Subscription)) is None
    assert process_due() == 0


@pytest.mark.parametrize(
    "answer",
    [
        "HTTP 200: '<html>Fatal Failure</html>'",
        "no answer within 2 s",
        "connection failed: ConnectionError",
    ],
)
def test_unclear_postback_retries_then_flags(app, client, db, make_plan, verified, clock, answer):
    """Anything but VERIFIED/INVALID: retried with backoff, then flagged; never applied."""
    verified.answer = answer
    make_plan("premium-monthly", role="premium")
    post_ipn(client, payment())
    process_due()
    note = db.session.scalar(select(Notification))
    assert note.status == "retry" and note.attempts == 1 and answer in note.error
    assert process_due() == 0  # not due before its backoff
    for _ in range(app.config["IPN_MAX_ATTEMPTS"] - 1):
        clock.advance(hours=1)
        process_due()
    db.session.expire_all()
    note = db.session.get(Notification, note.id)
    assert note.status == "flagged" and note.attempts == app.config["IPN_MAX_ATTEMPTS"]
    assert db.session.scalar(select(Flag)).kind == "postback"
    assert db.session.scalar(select(Subscription)) is None
    verified.answer = "VERIFIED"  # PayPal is back: an admin re-processes
    inbox.reprocess(note, clock.now())
    db.session.commit()
    process_due()
    assert db.session.get(Notification, note.id).status == "processed"


def test_long_fields_and_utf8_are_accepted(client, db, make_plan, verified):
    """Do very long fields and a UTF-8 body pass (no length rejects), names decoded right?"""
    make_plan("premium-monthly", role="premium")
    post_ipn(
        client,
        payment(
            charset="UTF-8",
            address_street="Straße " * 60,
            memo="m" * 300,
            item_name="n" * 200,
            first_name="Zoë",
            custom="c" * 256,
        ),
        charset="utf-8",
    )

    process_due()
    note = db.session.scalar(select(Notification))
    assert note.status == "processed", note.outcome
    from gateway.billing.formats.ipn import decode_body

    assert decode_body(note.body)[0]["first_name"] == "Zoë"


def test_an_earlier_receiver_address_or_id_is_still_ours(app, client, db, make_plan, verified):
    """Payments to the merchant's old e-mail or second account id count once configured."""
    make_plan("premium-monthly", role="premium")
    old = {"receiver_email": "Old@Example.com", "business": "old@example.com", "receiver_id": "X"}
    post_ipn(client, payment(**old))
    process_due()
    assert db.session.scalar(select(Flag).where(Flag.kind == "receiver")) is not None

    app.config["PAYPAL_RECEIVER_EMAILS"] = ["old@example.com"]
    post_ipn(client, payment(**old, txn_id="TXNCHECKS00000002"))
    app.config["PAYPAL_RECEIVER_IDS"] = ["SECONDACCOUNT"]
    other = {"receiver_email": "x@example.com", "business": "x@example.com"}
    post_ipn(client, payment(**other, receiver_id="SECONDACCOUNT", txn_id="TXNCHECKS00000003"))
    process_due()
    statuses = [
        n.status for n in db.session.scalars(select(Notification).order_by(Notification.id))
    ]
    assert statuses == ["flagged", "processed", "processed"]
