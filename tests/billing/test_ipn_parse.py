"""IPN decoding, PayPal dates and message interpretation (pure, no app)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gateway.billing import FactKind
from gateway.billing.formats.ipn import IpnMessage, decode_body, interpret, parse_payment_date

NOW = datetime(2026, 1, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    "text,utc",
    [
        ("18:13:35 Apr 17, 2012 PDT", datetime(2012, 4, 18, 1, 13, 35, tzinfo=UTC)),
        ("04:00:00 Jan 15, 2026 PST", datetime(2026, 1, 15, 12, 0, tzinfo=UTC)),
        ("04:00:00 Jan. 15, 2026 PST", datetime(2026, 1, 15, 12, 0, tzinfo=UTC)),
        # The repeated hour when DST ends: the zone word decides (django-paypal's test case).
        ("01:13:05 Nov 01, 2015 PDT", datetime(2015, 11, 1, 8, 13, 5, tzinfo=UTC)),
        ("01:13:05 Nov 01, 2015 PST", datetime(2015, 11, 1, 9, 13, 5, tzinfo=UTC)),
        ("N/A", None),
        ("", None),
        (None, None),
    ],
)
def test_payment_date(text, utc):
    """Are PayPal's Pacific dates read right, across DST, with N/A as no date?"""
    assert parse_payment_date(text) == utc


@pytest.mark.parametrize(
    "text", ["2026-01-15T12:00:00Z", "04:00:00 Foo 15, 2026 PST", "04:00:00 Jan 15, 2026 CET"]
)
def test_bad_dates_are_errors(text):
    """Is anything else a ValueError (flagged upstream), never a wrong date?"""
    with pytest.raises(ValueError):
        parse_payment_date(text)


def test_decode_uses_the_body_charset():
    """Is the body decoded in the charset it names, windows-1252 when it names none?"""
    assert decode_body(b"first_name=Jos%E9&charset=windows-1252")[0]["first_name"] == "José"
    assert decode_body(b"first_name=Jos%C3%A9&charset=UTF-8")[0]["first_name"] == "José"
    assert decode_body(b"first_name=Jos%E9")[0]["first_name"] == "José"
    assert decode_body(b"first_name=Jos%E9&charset=x-nonsense")[1] == "windows-1252"
    fields, _ = decode_body(b"first_name=Jos%E9&charset=UTF-8")  # lies about its charset
    assert fields["first_name"] == "Jos\ufffd"


def msg(**fields):
    return IpnMessage({k: v for k, v in fields.items()})


def test_interpret_payment_and_keys():
    """Is a completed payment one fact keyed by (txn_id, status, txn_type)?"""
    m = interpret(
        msg(
            txn_type="subscr_payment",
            subscr_id="I-1",
            txn_id="T1",
            payment_status="Completed",
            mc_gross="9.00",
            mc_currency="USD",
            payment_date="04:00:00 Jan 15, 2026 PST",
        ),
        NOW,
    )
    [fact] = m.facts
    assert fact.kind is FactKind.PAYMENT_COMPLETED and fact.key == "T1:Completed:subscr_payment"
    assert m.payment is not None
    assert m.payment.amount == Decimal("9.00") and fact.at.hour == 12


@pytest.mark.parametrize(
    "status,kind",
    [
        ("Pending", FactKind.PAYMENT_PENDING),
        ("Failed", FactKind.PAYMENT_FAILED),
        ("Denied", FactKind.PAYMENT_FAILED),
    ],
)
def test_interpret_other_payment_statuses(status, kind):
    """Pending waits, Failed and Denied are failures."""
    m = interpret(
        msg(
            txn_type="subscr_payment",
            subscr_id="I-1",
            txn_id="T1",
            payment_status=status,
            mc_gross="9.00",
        ),
        NOW,
    )
    assert [f.kind for f in m.facts] == [kind]


def test_interpret_money_back_names_the_parent():
    """Refunds, reversals and cancelled reversals point at the original payment."""
    for status, kind in [
        ("Refunded", FactKind.REFUNDED),
        ("Reversed", FactKind.REVERSED),
        ("Canceled_Reversal", FactKind.REVERSAL_CANCELLED),
    ]:
        m = interpret(
            msg(payment_status=status, parent_txn_id="T1", txn_id="R1", mc_gross="-9.00"), NOW
        )
        assert m.parent_txn_id == "T1" and m.facts[0].kind is kind
        assert m.facts[0].txn_id == "T1" and m.facts[0].key == f"R1:{status}:"


@pytest.mark.parametrize(
    "txn_type,kind",
    [
        ("subscr_cancel", FactKind.CANCELLED),
        ("subscr_eot", FactKind.ENDED),
        ("subscr_failed", FactKind.PAYMENT_FAILED),
        ("recurring_payment_profile_created", FactKind.STARTED),
        ("recurring_payment_skipped", FactKind.PAYMENT_FAILED),
        ("recurring_payment_failed", FactKind.PAYMENT_FAILED),
        ("recurring_payment_suspended", FactKind.SUSPENDED),
        ("recurring_payment_suspended_due_to_max_failed_payment", FactKind.ENDED),
        ("recurring_payment_profile_cancel", FactKind.CANCELLED),
        ("recurring_payment_expired", FactKind.ENDED),
    ],
)
def test_interpret_every_type(txn_type, kind):
    """Does every subscription txn_type become the documented fact?"""
    m = interpret(msg(txn_type=txn_type, recurring_payment_id="I-1", ipn_track_id="abc"), NOW)
    assert [f.kind for f in m.facts] == [kind]


def test_signup_with_free_trial():
    """Does a signup with amount1=0 open a trial for period1?"""
    m = interpret(
        msg(
            txn_type="subscr_signup",
            subscr_id="I-1",
            mc_amount1="0.00",
            period1="7 D",
            subscr_date="04:00:00 Jan 15, 2026 PST",
        ),
        NOW,
    )
    assert [f.kind for f in m.facts] == [FactKind.STARTED, FactKind.TRIAL]
    assert m.facts[1].until == datetime(2026, 1, 22, 12, tzinfo=UTC)


def test_irrelevant_and_modify():
    """Are non-subscription messages ignored and subscr_modify only noted?"""
    assert not interpret(msg(txn_type="send_money", txn_id="T"), NOW).relevant
    mod = interpret(msg(txn_type="subscr_modify", subscr_id="I-1"), NOW)
    assert mod.relevant and mod.facts == ()
