"""Passes in the pure core: the term laid from the later of the payment and the current end,
lifetime, refunds; and the one-time messages of each channel read into facts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from gateway.billing import Fact, FactKind, Terms, compute
from gateway.billing.formats.api_answers import interpret_api, order_document
from gateway.billing.formats.ipn import interpret_body
from gateway.billing.formats.webhook_events import interpret_event
from gateway.billing.rules.periods import PeriodUnit
from gateway.billing.rules.terms import AgreedTerms, differences
from gateway.billing.rules.timetext import LIFETIME_END, day_text, utc_text

T = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
PASS = Terms(30, PeriodUnit.DAY, one_time=True)
LIFETIME = Terms(1, PeriodUnit.DAY, one_time=True, lifetime=True)


def paid(at, txn, amount="20.00"):
    return Fact(
        FactKind.PAYMENT_COMPLETED, at, key=f"{txn}:Completed", txn_id=txn, amount=Decimal(amount)
    )


def test_buying_again_before_the_end_extends_from_the_end():
    """Does a second purchase add its term after the first's end, not from its own time?"""
    ent = compute([paid(T, "A"), paid(T + timedelta(days=10), "B")], PASS)
    assert ent.paid_through == T + timedelta(days=60) == ent.access_until
    assert [(p.start, p.end) for p in ent.periods] == [
        (T, T + timedelta(days=30)),
        (T + timedelta(days=30), T + timedelta(days=60)),
    ]


def test_buying_after_a_lapse_starts_at_the_payment():
    """A subscription's late payment continues its cycle; does a pass start anew instead?"""
    late = T + timedelta(days=45)
    ent = compute([paid(T, "A"), paid(late, "B")], PASS)
    assert ent.paid_through == late + timedelta(days=30)
    renewing = compute([paid(T, "A"), paid(late, "B")], Terms(30, PeriodUnit.DAY))
    assert renewing.paid_through == T + timedelta(days=60)  # the difference this rule makes


def test_a_refund_removes_its_term_and_a_failure_gives_no_grace():
    """Is a refunded purchase's term taken out of the chain, and no grace ever added?"""
    refund = Fact(
        FactKind.REFUNDED,
        T + timedelta(days=1),
        key="R:Refunded",
        txn_id="A",
        amount=Decimal("20.00"),
    )
    failed = Fact(FactKind.PAYMENT_FAILED, T + timedelta(days=2), key="F")
    ent = compute([paid(T, "A"), paid(T + timedelta(days=10), "B"), refund, failed], PASS)
    assert ent.paid_through == T + timedelta(days=40) and ent.grace_until is None
    assert compute([paid(T, "A"), refund], PASS).state.value == "refunded"


def test_lifetime_never_ends_and_reads_lifetime():
    """Is a lifetime pass paid through LIFETIME_END, written "lifetime", ended by a refund?"""
    ent = compute([paid(T, "A", "99.00")], LIFETIME)
    assert ent.access_until == LIFETIME_END and ent.has_access(T + timedelta(days=36500))
    assert utc_text(LIFETIME_END) == day_text(LIFETIME_END) == "lifetime"
    chargeback = Fact(FactKind.REVERSED, T, key="X:Reversed", txn_id="A")
    assert compute([paid(T, "A", "99.00"), chargeback], LIFETIME).access_until is None


def test_pass_terms_keep_subscription_json_as_it_was():
    """Do a pass's terms round-trip, and a subscription's stored JSON stay unchanged?"""
    terms = AgreedTerms(Decimal("20.00"), "USD", 30, PeriodUnit.DAY, recurring=False, one_time=True)
    assert AgreedTerms.from_json(terms.to_json()) == terms
    described = terms.describe()
    assert terms.billing_period == PASS and "pass: 30 D, " in described and "once" in described
    sub = AgreedTerms(Decimal("9.00"), "USD", 1, PeriodUnit.MONTH)
    assert "one_time" not in sub.to_json()
    assert "a pass instead of a subscription" in differences(sub, terms)


def ipn(**fields) -> bytes:
    base = {"receiver_email": "merchant@example.com", "mc_currency": "USD", "charset": "utf-8"}
    return urlencode(base | fields).encode()


def test_web_accept_is_a_one_time_purchase():
    """Is a Buy Now IPN a purchase named by its txn_id, Pending then Completed one payment?"""
    body = dict(
        txn_type="web_accept",
        txn_id="9AB",
        payment_status="Completed",
        mc_gross="20.00",
        custom="tok",
        item_number="month-pass",
        payment_date="04:00:00 Jan 15, 2026 PST",
    )
    m = interpret_body(ipn(**body), T)
    assert m.relevant and m.one_time and m.subscription_ref == "9AB" and m.member_token == "tok"
    assert m.payment is not None and m.payment.amount == Decimal("20.00") and m.completes_payment
    assert [f.kind for f in m.facts] == [FactKind.PAYMENT_COMPLETED]
    pending = interpret_body(ipn(**body | {"payment_status": "Pending"}), T)
    assert pending.facts[0].kind is FactKind.PAYMENT_PENDING and pending.subscription_ref == "9AB"
    refund = interpret_body(
        ipn(
            **body
            | {
                "payment_status": "Refunded",
                "txn_id": "R1",
                "parent_txn_id": "9AB",
                "mc_gross": "-20.00",
            }
        ),
        T,
    )
    assert refund.parent_txn_id == "9AB" and not refund.one_time
    assert refund.facts[0].kind is FactKind.REFUNDED and refund.facts[0].txn_id == "9AB"
    assert interpret_body(ipn(txn_type="web_accept", payment_status="Completed"), T).error


CAPTURE = {
    "id": "2GG279541U471931P",
    "status": "COMPLETED",
    "amount": {"currency_code": "USD", "value": "20.00"},
    "seller_receivable_breakdown": {"paypal_fee": {"currency_code": "USD", "value": "0.88"}},
    "custom_id": "tok",
    "supplementary_data": {"related_ids": {"order_id": "5O190127TN364715T"}},
    "create_time": "2026-01-15T12:00:00Z",
    "links": [{"href": "https://api.paypal.com/v2/checkout/orders/5O190127TN364715T", "rel": "up"}],
}


def event(kind, resource) -> bytes:
    return json.dumps({"id": "WH-1", "event_type": kind, "resource": resource}).encode()


def test_capture_webhooks_are_one_time_purchases_and_their_refunds():
    """COMPLETED: the order's payment; REFUNDED/REVERSED: the capture named by `up`."""
    m = interpret_event(event("PAYMENT.CAPTURE.COMPLETED", CAPTURE), T)
    assert m.one_time and m.subscription_ref == "5O190127TN364715T" and m.member_token == "tok"
    assert (
        m.payment is not None
        and m.payment.txn_id == CAPTURE["id"]
        and m.payment.fee == Decimal("0.88")
    )
    assert m.facts == (
        Fact(
            FactKind.PAYMENT_COMPLETED,
            T,
            key=f"{CAPTURE['id']}:Completed",
            txn_id=CAPTURE["id"],
            amount=Decimal("20.00"),
        ),
    )
    denied = interpret_event(event("PAYMENT.CAPTURE.DENIED", CAPTURE | {"status": "DECLINED"}), T)
    assert denied.payment is None and denied.facts[0].kind is FactKind.PAYMENT_FAILED
    refund = {
        "id": "1JU08902781691411",
        "amount": {"value": "5.00", "currency_code": "USD"},
        "status": "COMPLETED",
        "links": [
            {"href": f"https://api.paypal.com/v2/payments/captures/{CAPTURE['id']}", "rel": "up"}
        ],
    }
    r = interpret_event(event("PAYMENT.CAPTURE.REFUNDED", refund), T)
    assert r.parent_txn_id == CAPTURE["id"] and r.facts[0].amount == Decimal("5.00")
    assert r.facts[0].key == "1JU08902781691411:Refunded"  # one refund with the IPN's copy
    rev = interpret_event(event("PAYMENT.CAPTURE.REVERSED", refund), T)
    assert rev.facts[0].kind is FactKind.REVERSED and rev.facts[0].amount is None
    orphan = interpret_event(event("PAYMENT.CAPTURE.REFUNDED", refund | {"links": []}), T)
    assert "names no capture" in orphan.error


def test_an_order_answer_names_its_payee_and_capture():
    """Is an order we asked PayPal about read with its payee as the receiver?"""
    order = {
        "id": "5O190127TN364715T",
        "status": "COMPLETED",
        "intent": "CAPTURE",
        "purchase_units": [
            {
                "custom_id": "tok",
                "amount": {"currency_code": "USD", "value": "20.00"},
                "payee": {"email_address": "merchant@example.com", "merchant_id": "M1"},
                "payments": {"captures": [CAPTURE]},
            }
        ],
    }
    m = interpret_api(order_document(order, T), T)
    assert m.one_time and m.subscription_ref == order["id"] and m.receiver is not None
    assert m.receiver.emails == ("merchant@example.com",) and m.completes_payment
    bare = order | {"status": "APPROVED", "purchase_units": [{"custom_id": "tok"}]}
    m = interpret_api(order_document(bare, T), T)
    assert m.facts == () and "not captured" in m.summary and m.receiver is None
