"""What the gateway stores when it asks PayPal's Subscriptions API: the document format, its
interpretation, and the same fact as the webhook's for the same change (pure, no database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.billing import FactKind
from gateway.billing.formats.api_answers import (
    interpret_api,
    subscription_document,
    transaction_document,
)
from gateway.billing.formats.webhook_events import interpret_event
from gateway.billing.rules.interpretation import PlanRef
from gateway.billing.rules.statuses import PlanRefKind
from paypal_sim.formats import money, rfc3339
from paypal_sim.state import Subscription as SimSubscription
from paypal_sim.state import Transaction
from tests.billing.test_webhook_events import FIELDS, JSON, event, keys, sale, sent, stand_in

NOW = datetime(2026, 1, 20, tzinfo=UTC)
ASKED = datetime(2026, 1, 16, 9, 30, tzinfo=UTC)

# PayPal's GET /v1/billing/subscriptions/{id} answer, sandbox, 2023-09-20 (pasted in a public
# script that fetched it: "paypaltime2datetime" / I-G7ALBP85F9JY); the address trimmed.
SANDBOX_SUBSCRIPTION: dict[str, Any] = {
    "status": "ACTIVE",
    "status_update_time": "2023-09-20T04:11:23Z",
    "id": "I-G7ALBP85F9JY",
    "plan_id": "P-32P35738U4826650TMT72TNA",
    "start_time": "2023-09-20T04:09:41Z",
    "quantity": "1",
    "shipping_amount": {"currency_code": "USD", "value": "0.0"},
    "subscriber": {
        "email_address": "testuser123@email.com",
        "payer_id": "5X8E6KMDML6RA",
        "name": {"given_name": "John", "surname": "Doe"},
    },
    "billing_info": {
        "outstanding_balance": {"currency_code": "USD", "value": "0.0"},
        "cycle_executions": [
            {
                "tenure_type": "REGULAR",
                "sequence": 1,
                "cycles_completed": 1,
                "cycles_remaining": 0,
                "current_pricing_scheme_version": 1,
                "total_cycles": 0,
            }
        ],
        "last_payment": {
            "amount": {"currency_code": "USD", "value": "9.99"},
            "time": "2023-09-20T04:11:23Z",
        },
        "next_billing_time": "2023-10-20T10:00:00Z",
        "failed_payments_count": 0,
    },
    "create_time": "2023-09-20T04:11:22Z",
    "update_time": "2023-09-20T04:11:23Z",
    "plan_overridden": False,
    "links": [],
}

# One item of GET .../transactions, shaped as PayPal's SDK documents it
# (paypal/PayPal-TypeScript-Server-SDK doc/models/transactions-list.md), with real values.
TRANSACTION: dict[str, Any] = {
    "status": "COMPLETED",
    "id": "7WT2824826029771W",
    "amount_with_breakdown": {
        "gross_amount": {"currency_code": "USD", "value": "9.99"},
        "fee_amount": {"currency_code": "USD", "value": "0.69"},
        "net_amount": {"currency_code": "USD", "value": "9.30"},
    },
    "payer_name": {"given_name": "John", "surname": "Doe"},
    "payer_email": "payer@example.com",
    "time": "2026-01-15T12:00:00Z",
}


def doc(**fields: Any) -> dict[str, Any]:
    return {**SANDBOX_SUBSCRIPTION, **fields}


def txn(**fields: Any) -> dict[str, Any]:
    return {**TRANSACTION, **fields}


# -- The format -------------------------------------------------------------------------------


def test_documents_are_canonical():
    """Is each document canonical JSON with its kind, the time asked and PayPal's parts?"""
    body = subscription_document({"status": "ACTIVE", "id": "I-1"}, ASKED)
    assert body == (
        b'{"asked_at":"2026-01-16T09:30:00Z","kind":"subscription",'
        b'"subscription":{"id":"I-1","status":"ACTIVE"}}'
    )
    body = transaction_document({"id": "I-1"}, {"id": "T", "amount": Decimal("9.99")}, ASKED)
    assert json.loads(body) == {
        "asked_at": "2026-01-16T09:30:00Z",
        "kind": "transaction",
        "subscription": {"id": "I-1"},
        "transaction": {"id": "T", "amount": "9.99"},
    }
    later = datetime(2026, 1, 16, 11, 30, tzinfo=UTC) - timedelta(hours=2)
    assert subscription_document({"b": 1, "a": "é"}, later) == subscription_document(
        {"a": "é", "b": 1}, ASKED
    )  # one answer, one byte string: key order and the zone of `asked_at` do not matter


def test_documents_refuse_what_is_not_paypals_answer():
    """Are a naive time, a non-object part and a non-JSON value refused by the builders?"""
    with pytest.raises(ValueError):
        subscription_document({"id": "I-1"}, datetime(2026, 1, 16))
    with pytest.raises(TypeError):
        transaction_document({"id": "I-1"}, ["T"], ASKED)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        subscription_document({"id": "I-1", "when": ASKED}, ASKED)
    with pytest.raises(ValueError):
        subscription_document({"id": "I-1", "x": float("nan")}, ASKED)


# -- Subscriptions ---------------------------------------------------------------------------------


def test_real_subscription_answer():
    """Does PayPal's real answer for an active subscription give the webhook's STARTED?"""
    m = interpret_api(subscription_document(SANDBOX_SUBSCRIPTION, ASKED), NOW)
    assert not m.error and m.relevant and m.status == "ACTIVE"
    assert keys(m) == [(FactKind.STARTED, "activated")]
    assert m.facts[0].at == datetime(2023, 9, 20, 4, 11, 23, tzinfo=UTC)
    assert m.subscription_ref == "I-G7ALBP85F9JY" and m.payer_email == "testuser123@email.com"
    assert m.payer_name == "John Doe"  # subscriber.name, for the receipt
    assert m.plan_refs == (PlanRef(PlanRefKind.REST_PLAN, "P-32P35738U4826650TMT72TNA"),)
    assert m.receiver is None and m.is_test is None and m.terms_event == ""


@pytest.mark.parametrize(
    "status,event_type,expected",
    [
        ("ACTIVE", "BILLING.SUBSCRIPTION.ACTIVATED", [(FactKind.STARTED, "activated")]),
        (
            "SUSPENDED",
            "BILLING.SUBSCRIPTION.SUSPENDED",
            [(FactKind.SUSPENDED, "suspended:2023-09-20T04:11:23Z")],
        ),
        ("CANCELLED", "BILLING.SUBSCRIPTION.CANCELLED", [(FactKind.CANCELLED, "cancelled")]),
        ("EXPIRED", "BILLING.SUBSCRIPTION.EXPIRED", [(FactKind.ENDED, "ended")]),
        ("APPROVAL_PENDING", "BILLING.SUBSCRIPTION.CREATED", []),
        ("APPROVED", "BILLING.SUBSCRIPTION.UPDATED", []),
    ],
)
def test_statuses_are_the_webhooks_facts(status, event_type, expected):
    """Does each status give the same facts, keys and times as the webhook for it?"""
    answer = interpret_api(subscription_document(doc(status=status), ASKED), NOW)
    hook = interpret_event(event(event_type, doc(status=status)), NOW)
    assert keys(answer) == keys(hook) == expected
    assert [f.at for f in answer.facts] == [f.at for f in hook.facts]
    assert answer.subscription_ref == hook.subscription_ref and not answer.error


def test_unknown_status_is_noted():
    """Is a status PayPal may add later noted, linked to the subscription, with no effect?"""
    m = interpret_api(subscription_document(doc(status="PAUSED"), ASKED), NOW)
    assert not m.error and m.relevant and m.facts == () and "noted" in m.summary


def test_missing_status_time_keys_by_asking_time():
    """Without any time, is a suspension keyed by when we asked (so re-reading is one fact)?"""
    answer = doc(status="SUSPENDED", status_update_time=None, update_time=None)
    m = interpret_api(subscription_document(answer, ASKED), NOW)
    assert keys(m) == [(FactKind.SUSPENDED, "suspended:asked:2026-01-16T09:30:00Z")]
    assert m.facts[0].at == NOW


def test_stand_in_trial_is_learnt_by_asking():
    """Is the stand-in's free trial read from the answer, though not from the activation?"""
    sim, sub = stand_in(trial=True)
    activated = [b for label, b in sent(sim) if label == "BILLING.SUBSCRIPTION.ACTIVATED"]
    hook = interpret_event(activated[0], NOW)
    m = interpret_api(subscription_document(sim.subscription_json(sub), ASKED), NOW)
    assert keys(hook) == [(FactKind.STARTED, "activated")]
    assert keys(m) == [(FactKind.STARTED, "activated"), (FactKind.TRIAL, "trial")]
    assert m.facts[1].until == sub.next_billing and m.member_token == "tok-123"
    assert m.payer_email == "buyer@example.com"


# -- Transactions ----------------------------------------------------------------------------------


def test_completed_transaction():
    """Is a completed transaction the webhook's payment, with the subscription's names?"""
    m = interpret_api(transaction_document(SANDBOX_SUBSCRIPTION, TRANSACTION, ASKED), NOW)
    assert not m.error and m.completes_payment and m.txn_id == "7WT2824826029771W"
    [fact] = m.facts
    assert (fact.kind, fact.key, fact.txn_id, fact.amount) == (
        FactKind.PAYMENT_COMPLETED,
        "7WT2824826029771W:Completed",
        "7WT2824826029771W",
        Decimal("9.99"),
    )
    assert m.payment is not None and m.payment.fee == Decimal("0.69") and m.payment.at == fact.at
    assert m.money is not None and (m.money.gross, m.money.currency) == (Decimal("9.99"), "USD")
    assert m.subscription_ref == "I-G7ALBP85F9JY" and m.payer_email == "testuser123@email.com"
    assert m.plan_refs == (PlanRef(PlanRefKind.REST_PLAN, "P-32P35738U4826650TMT72TNA"),)
    assert m.warnings == ()


def test_transaction_names_its_payer():
    """The transaction's own payer_name wins; without one the subscriber's name stands in."""
    named = txn(payer_name={"given_name": " Zoë ", "surname": "Ångström"})
    m = interpret_api(transaction_document(SANDBOX_SUBSCRIPTION, named, ASKED), NOW)
    assert m.payer_name == "Zoë Ångström"
    unnamed = {k: v for k, v in TRANSACTION.items() if k != "payer_name"}
    m = interpret_api(transaction_document(SANDBOX_SUBSCRIPTION, unnamed, ASKED), NOW)
    assert m.payer_name == "John Doe"


@pytest.mark.parametrize("status", ["PARTIALLY_REFUNDED", "REFUNDED"])
def test_refunded_transaction_is_its_payment_and_a_warning(status):
    """Is a refunded transaction still its completed payment, the refund left to others?"""
    m = interpret_api(transaction_document(doc(), txn(status=status), ASKED), NOW)
    assert keys(m) == [(FactKind.PAYMENT_COMPLETED, "7WT2824826029771W:Completed")]
    assert m.payment is not None and m.payment.status == "Completed"
    assert not any(f.kind is FactKind.REFUNDED for f in m.facts)
    [warning] = m.warnings
    assert "refund" in warning and "expected by webhook" in warning


@pytest.mark.parametrize(
    "status,expected",
    [
        ("DECLINED", [(FactKind.PAYMENT_FAILED, "7WT2824826029771W:Denied")]),
        ("FAILED", [(FactKind.PAYMENT_FAILED, "7WT2824826029771W:Denied")]),
        ("PENDING", []),
        ("SOMETHING_NEW", []),
    ],
)
def test_other_transactions(status, expected):
    """Is a declined transaction the webhook's denial, and a pending one only noted?"""
    m = interpret_api(transaction_document(doc(), txn(status=status), ASKED), NOW)
    assert not m.error and keys(m) == expected and m.payment is None


def test_denial_is_one_fact_with_the_webhook():
    """Do DENIED by webhook and DECLINED by the API give the same key?"""
    hook = interpret_event(event("PAYMENT.SALE.DENIED", sale(state="denied")), NOW)
    answer = interpret_api(transaction_document(doc(), txn(status="DECLINED"), ASKED), NOW)
    assert keys(hook) == keys(answer)


def sim_transaction_item(t: Transaction, sub: SimSubscription) -> dict[str, Any]:
    """The item the stand-in's GET .../transactions lists (paypal_sim/rest_subscriptions.py)."""
    return {
        "id": t.id,
        "status": {"Completed": "COMPLETED"}.get(t.status, t.status.upper()),
        "amount_with_breakdown": {
            "gross_amount": {"currency_code": t.currency, "value": money(t.amount)},
            "fee_amount": {"currency_code": t.currency, "value": money(t.fee)},
            "net_amount": {"currency_code": t.currency, "value": money(t.amount - t.fee)},
        },
        "payer_name": {"given_name": sub.first_name, "surname": sub.last_name},
        "payer_email": sub.payer_email,
        "time": rfc3339(t.time),
    }


def test_payment_is_one_fact_by_webhook_and_by_asking():
    """Does the same payment give equal (kind, key, txn_id, amount) both ways?"""
    sim, sub = stand_in()
    [hook] = [
        interpret_event(b, NOW) for label, b in sent(sim) if label == "PAYMENT.SALE.COMPLETED"
    ]
    assert sub.last_payment is not None
    item = sim_transaction_item(sub.last_payment, sub)
    answer = interpret_api(transaction_document(sim.subscription_json(sub), item, ASKED), NOW)

    def same(f: Any) -> tuple[Any, ...]:
        return (f.kind, f.key, f.txn_id, f.amount, f.at)

    assert [same(f) for f in hook.facts] == [same(f) for f in answer.facts]
    assert hook.payment == answer.payment and hook.subscription_ref == answer.subscription_ref
    # ...and with a real sale and the same payment listed by the API:
    real = interpret_event(event("PAYMENT.SALE.COMPLETED", sale()), NOW)
    listed = interpret_api(transaction_document(doc(), TRANSACTION, ASKED), NOW)
    assert [same(f) for f in real.facts] == [same(f) for f in listed.facts]


# -- Unreadable answers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body,why",
    [
        (b"not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"kind": "plan", "asked_at": "2026-01-16T09:30:00Z"}', "kind 'plan'"),
        (b'{"kind": 1}', "not a string"),
        (b'{"kind": "subscription", "subscription": {"id": "I-1"}}', "when it was asked"),
        (
            b'{"kind": "subscription", "asked_at": "16/01/2026", "subscription": {"id": "I-1"}}',
            "RFC 3339",
        ),
        (b'{"kind": "subscription", "asked_at": "2026-01-16T09:30:00Z"}', "has no id"),
        (
            b'{"kind": "subscription", "asked_at": "2026-01-16T09:30:00Z", "subscription": []}',
            "not an object",
        ),
    ],
)
def test_unreadable_documents(body, why):
    """Is a document that cannot be read an error, never an exception?"""
    m = interpret_api(body, NOW)
    assert m.summary == "unreadable" and why in m.error and m.facts == (), m.error


@pytest.mark.parametrize(
    "transaction,why",
    [
        ({}, "has no id"),
        (txn(id=42), "not a string"),
        (txn(status=["COMPLETED"]), "not a string"),
        (txn(amount_with_breakdown={}), "no amount"),
        (txn(amount_with_breakdown={"gross_amount": {"value": "lots"}}), "not an amount"),
        (txn(amount_with_breakdown={"gross_amount": {"value": "1" + "0" * 12}}), "range"),
    ],
)
def test_unreadable_transactions(transaction, why):
    """Is a transaction that cannot be read an error naming what?"""
    m = interpret_api(transaction_document(doc(), transaction, ASKED), NOW)
    assert m.summary == "unreadable" and why in m.error, m.error
    assert m.event == "api transaction"


def test_unreadable_transaction_time_falls_back():
    """Is a transaction with an unreadable time dated by its receipt, with a warning?"""
    m = interpret_api(transaction_document(doc(), txn(time="soon"), ASKED), NOW)
    assert m.facts[0].at == NOW and "dated by its receipt" in m.warnings[0]


@settings(max_examples=200, deadline=None)
@given(
    subscription=st.dictionaries(FIELDS, JSON, max_size=8),
    transaction=st.none() | st.dictionaries(st.sampled_from(["id", "status", "time"]), JSON),
)
def test_never_raises(subscription, transaction):
    """Does any answer, however odd, give an interpretation rather than an exception?"""
    body = (
        subscription_document(subscription, ASKED)
        if transaction is None
        else transaction_document(subscription, transaction, ASKED)
    )
    assert interpret_api(body, NOW).summary
