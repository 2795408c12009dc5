"""REST webhook events: RFC 3339 times, the event -> facts mapping, real PayPal bodies, the
stand-in's bodies and unreadable input (pure, no app, no database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.billing import FactKind
from gateway.billing.formats.ipn import interpret_body
from gateway.billing.formats.paypal_json import parse_rfc3339, rfc3339
from gateway.billing.formats.webhook_events import event_id, interpret_event
from gateway.billing.rules.interpretation import Interpretation, PlanRef
from gateway.billing.rules.statuses import PlanRefKind
from paypal_sim import webhooks as wh
from paypal_sim.clock import SimClock
from paypal_sim.delivery import Outbox
from paypal_sim.engine import Sim
from paypal_sim.rest_plans import create_plan_from
from paypal_sim.state import Subscription, Webhook

NOW = datetime(2026, 1, 20, tzinfo=UTC)
T0 = datetime(2026, 1, 15, 12, tzinfo=UTC)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def event(event_type: str, resource: Any, **envelope: Any) -> bytes:
    body = {"id": "WH-TEST-1", "event_type": event_type, "resource": resource, **envelope}
    return json.dumps(body).encode()


def subscription(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "I-BW452GLLEP1G",
        "plan_id": "P-5ML4271244454362WXNWU5NQ",
        "status": "ACTIVE",
        "custom_id": "tok-1",
        "status_update_time": "2026-01-15T12:00:00Z",
        "start_time": "2026-01-15T11:59:00Z",
        "update_time": "2026-01-15T12:00:00Z",
        "subscriber": {"email_address": "buyer@example.com"},
    }
    return {**base, **fields}


def sale(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "7WT2824826029771W",
        "state": "completed",
        "amount": {"total": "9.99", "currency": "USD", "details": {"subtotal": "9.99"}},
        "transaction_fee": {"currency": "USD", "value": "0.69"},
        "billing_agreement_id": "I-CP18AJLYDWR2",
        "create_time": "2026-01-15T12:00:00Z",
        "update_time": "2026-01-15T12:00:00Z",
    }
    return {**base, **fields}


def keys(meaning: Interpretation) -> list[tuple[FactKind, str]]:
    """The facts' kinds and keys, less the resume marker every activation carries
    (test_activation_lifts_an_earlier_pause checks it)."""
    started = {f.at for f in meaning.facts if f.kind is FactKind.STARTED}
    return [
        (f.kind, f.key)
        for f in meaning.facts
        if not (f.kind is FactKind.REACTIVATED and f.at in started)
    ]


def test_activation_lifts_an_earlier_pause():
    """Does ACTIVATED after SUSPENDED (PayPal's activate call) resume the subscription?"""
    from gateway.billing import Policy, Terms, compute
    from gateway.billing.rules.periods import PeriodUnit

    def at(kind: str, when: str) -> Interpretation:
        sub = subscription(status_update_time=when, update_time=when)
        return interpret_event(event(f"BILLING.SUBSCRIPTION.{kind}", sub), NOW)

    paused = at("SUSPENDED", "2026-01-20T00:00:00Z")
    resumed = at("ACTIVATED", "2026-01-25T00:00:00Z")
    stale = at("ACTIVATED", "2026-01-10T00:00:00Z")  # the first activation, late
    terms = Terms(1, PeriodUnit.MONTH)
    assert compute([*paused.facts, *stale.facts], terms, Policy()).state.value == "suspended"
    both = compute([*paused.facts, *resumed.facts, *stale.facts], terms, Policy())
    assert both.state.value == "pending"  # not suspended any more (nothing paid in this test)


# -- RFC 3339 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2026-01-15T12:00:00Z", utc(2026, 1, 15, 12)),
        ("2026-01-15t12:00:00z", utc(2026, 1, 15, 12)),
        ("2018-08-15T12:13:29-07:00", utc(2018, 8, 15, 19, 13, 29)),
        ("2026-01-01T01:30:00+02:00", utc(2025, 12, 31, 23, 30)),
        ("2023-10-26T11:11:00.892Z", utc(2023, 10, 26, 11, 11, 0, 892000)),
        ("2026-01-15T12:00:00.123456789Z", utc(2026, 1, 15, 12, 0, 0, 123456)),
        ("2024-02-29T00:00:00+00:00", utc(2024, 2, 29)),
        ("", None),
        (None, None),
    ],
)
def test_rfc3339(text, expected):
    """Are Z, offsets and fractions read as UTC (fractions cut to microseconds)?"""
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2018-19-12T22:20:32.000Z",  # month 19: in PayPal's own sample events (see below)
        "2026-01-15",
        "2026-01-15T12:00:00",  # no offset: a naive time is no time
        "2026-01-15T12:00:00Z\n",
        "2026-01-15 12:00:00Z",
        "2026-01-15T12:00Z",
        "2026-01-15T24:00:00Z",
        "2016-12-31T23:59:60Z",  # a leap second: datetime cannot hold it
        "2026-01-15T12:00:00+24:00",
        "2026-02-30T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59-01:00",  # past datetime's last day once made UTC
        "\uff12\uff10\uff12\uff16-01-15T12:00:00Z",  # full-width digits
        "15:41:51 Oct 31, 2014 PDT",  # an IPN date is not an RFC 3339 time
        1421764800,
        ["2026-01-15T12:00:00Z"],
    ],
)
def test_rfc3339_refuses(text):
    """Is anything else a ValueError, never a wrong time?"""
    with pytest.raises(ValueError):
        parse_rfc3339(text)


def test_canonical_time():
    """Is the canonical form UTC with whole seconds and a Z, and a naive time refused?"""
    assert rfc3339(utc(2026, 1, 15, 14, 0, 0, 5)) == "2026-01-15T14:00:00Z"
    plus_two = datetime(2026, 1, 15, 14, tzinfo=timezone(timedelta(hours=2)))
    assert rfc3339(plus_two) == "2026-01-15T12:00:00Z"
    with pytest.raises(ValueError):
        rfc3339(datetime(2026, 1, 15))


# -- Real PayPal bodies -----------------------------------------------------------------------
# Sources (public repositories, found with the code search; kept whole where they matter):
# * SANDBOX_ACTIVATED: a sandbox BILLING.SUBSCRIPTION.ACTIVATED of 2024-08-20 pasted in a
#   Django test (payments/tests, "PayPalWebhookTestCase"); subscriber's address trimmed.
# * SIM_*: bodies PayPal's webhook simulator sent on 2024-07-30/08-02, kept with their
#   transmission headers in a "Simulated WebHook messages for reference" module (pydantic
#   ConstRequestData). Note the envelope create_time "2018-19-12T22:20:32.000Z": month 19.
# * SANDBOX_SALE: a sandbox PAYMENT.SALE.COMPLETED of 2023-10-26 for I-CP18AJLYDWR2.
# * PRETIX_REFUND: pretix's PayPal plugin test ("Sample obtained in a sandbox webhook",
#   2017): a refund resource with a positive total and resource_type "refund".

SANDBOX_ACTIVATED = b"""{"id":"WH-4JX204663A8287931-6LX68303T63222804","event_version":"1.0",
"create_time":"2024-08-20T04:50:03.566Z","resource_type":"subscription","resource_version":"2.0",
"event_type":"BILLING.SUBSCRIPTION.ACTIVATED","summary":"Subscription activated","resource":{
"quantity":"1","subscriber":{"email_address":"oscar.carrillo2941@alumnos.udg.mx",
"payer_id":"UEPZTTKJQQ8JC","name":{"given_name":"John","surname":"Doe"}},
"create_time":"2024-08-20T04:49:31Z","plan_overridden":false,
"shipping_amount":{"currency_code":"MXN","value":"0.0"},"start_time":"2024-08-20T04:48:43Z",
"update_time":"2024-08-20T04:49:32Z","billing_info":{"outstanding_balance":{"currency_code":"MXN",
"value":"0.0"},"cycle_executions":[{"tenure_type":"REGULAR","sequence":1,"cycles_completed":1,
"cycles_remaining":0,"current_pricing_scheme_version":1,"total_cycles":0}],"last_payment":{
"amount":{"currency_code":"MXN","value":"250.0"},"time":"2024-08-20T04:49:31Z"},
"next_billing_time":"2024-09-19T10:00:00Z","failed_payments_count":0},"links":[{
"href":"https://api.sandbox.paypal.com/v1/billing/subscriptions/I-2C054R2S7S33","rel":"self",
"method":"GET","encType":"application/json"}],"id":"I-2C054R2S7S33",
"plan_id":"P-5G929033T98692209M3CB6EI","status":"ACTIVE",
"status_update_time":"2024-08-20T04:49:32Z"},
"links":[]}"""

SIM_SUBSCRIPTION = (
    '{"id":"I-BW452GLLEP1G","status":"%s","status_update_time":"2018-12-10T21:20:49Z",'
    '"plan_id":"P-5ML4271244454362WXNWU5NQ","start_time":"2018-11-01T00:00:00Z","quantity":"20",'
    '"subscriber":{"name":{"given_name":"John","surname":"Doe"},'
    '"email_address":"customer@example.com","payer_id":"2J6QB8YJQSJRJ"},"auto_renewal":true,'
    '"billing_info":{"outstanding_balance":{"currency_code":"USD","value":"10.00"},'
    '"cycle_executions":[{"tenure_type":"TRIAL","sequence":1,"cycles_completed":1,'
    '"cycles_remaining":0,"current_pricing_scheme_version":1},{"tenure_type":"REGULAR",'
    '"sequence":2,"cycles_completed":1,"cycles_remaining":0,"current_pricing_scheme_version":1}],'
    '"last_payment":{"amount":{"currency_code":"USD","value":"500.00"},'
    '"time":"2018-12-01T01:20:49Z"},%s"next_billing_time":"2019-01-01T00:20:49Z",'
    '"final_payment_time":"2020-01-01T00:20:49Z","failed_payments_count":2},'
    '"create_time":"2018-10-20T21:20:49Z","update_time":"2018-12-10T21:20:49Z","links":[]}'
)
SIM_FAILED_PAYMENT = (
    '"last_failed_payment":{"amount":{"currency_code":"USD","value":"500.00"},'
    '"time":"2019-01-01T01:20:49Z","reason_code":"PAYMENT_DENIED",'
    '"next_payment_retry_date":"2019-01-06T01:20:49Z"},'
)


def sim_event(event_type: str, status: str, create_time: str, failed: str = "") -> bytes:
    resource = SIM_SUBSCRIPTION % (status, failed)
    return (
        f'{{"id":"WH-UY687577TY25889J9-2R6T55435R66168Y6","create_time":"{create_time}",'
        f'"event_type":"{event_type}","event_version":"1.0","resource_type":"subscription",'
        f'"resource_version":"2.0","summary":"...","resource":{resource},"links":[]}}'
    ).encode()


SANDBOX_SALE = b"""{"id":"WH-5P841626K1319501S-93T49540D8390830S","event_version":"1.0",
"create_time":"2023-10-26T11:11:00.892Z","resource_type":"sale",
"event_type":"PAYMENT.SALE.COMPLETED",
"summary":"Payment completed for $ 9.99 USD","resource":{"billing_agreement_id":"I-CP18AJLYDWR2",
"amount":{"total":"9.99","currency":"USD","details":{"subtotal":"9.99"}},
"payment_mode":"INSTANT_TRANSFER","update_time":"2023-10-26T11:10:43Z",
"create_time":"2023-10-26T11:10:43Z",
"protection_eligibility_type":"ITEM_NOT_RECEIVED_ELIGIBLE,UNAUTHORIZED_PAYMENT_ELIGIBLE",
"transaction_fee":{"currency":"USD","value":"0.69"},"protection_eligibility":"ELIGIBLE",
"links":[{"method":"GET","rel":"self",
"href":"https://api.sandbox.paypal.com/v1/payments/sale/7WT2824826029771W"}],
"id":"7WT2824826029771W","state":"completed","invoice_number":""},"links":[]}"""

SIM_ONE_OFF_SALE = b"""{"id":"WH-2WR32451HC0233532-67976317FL4543714","event_version":"1.0",
"create_time":"2014-10-23T17:23:52Z","resource_type":"sale","event_type":"PAYMENT.SALE.COMPLETED",
"summary":"A successful sale payment was made for $ 0.48 USD","resource":{"id":"80021663DE681814L",
"create_time":"2014-10-23T17:22:56Z","update_time":"2014-10-23T17:23:04Z",
"amount":{"total":"0.48","currency":"USD"},"payment_mode":"ECHECK","state":"completed",
"protection_eligibility":"ELIGIBLE","clearing_time":"2014-10-30T07:00:00Z",
"parent_payment":"PAY-1PA12106FU478450MKRETS4A","links":[]},"links":[]}"""

SIM_REFUND = b"""{"id":"WH-2N242548W9943490U-1JU23391CS4765624","event_version":"1.0",
"create_time":"2014-10-31T15:42:24Z","resource_type":"sale","event_type":"PAYMENT.SALE.REFUNDED",
"summary":"A 0.01 USD sale payment was refunded","resource":{"id":"6YX43824R4443062K",
"create_time":"2014-10-31T15:41:51Z","update_time":"2014-10-31T15:41:51Z","state":"completed",
"amount":{"total":"-0.01","currency":"USD"},"sale_id":"9T0916710M1105906",
"parent_payment":"PAY-5437236047802405NKRJ22UA","links":[
{"href":"https://api.paypal.com/v1/payments/refund/6YX43824R4443062K","rel":"self","method":"GET"},
{"href":"https://api.paypal.com/v1/payments/payment/PAY-5437236047802405NKRJ22UA",
"rel":"parent_payment","method":"GET"},
{"href":"https://api.paypal.com/v1/payments/sale/9T0916710M1105906","rel":"sale","method":"GET"}]},
"links":[]}"""

PRETIX_REFUND = b"""{"id":"WH-9K829080KA1622327-31011919VC6498738",
"create_time":"2017-01-15T20:15:36Z","resource_type":"refund","event_type":"PAYMENT.SALE.REFUNDED",
"summary":"A EUR 255.41 EUR sale payment was refunded","resource":{"amount":{"total":"255.41",
"currency":"EUR"},"id":"75S46770PP192124D","parent_payment":"PAY-5YK922393D847794YKER7MUI",
"update_time":"2017-01-15T20:15:06Z","create_time":"2017-01-15T20:14:29Z","state":"completed",
"links":[],"refund_to_payer":{"value":"255.41","currency":"EUR"},"invoice_number":"",
"refund_reason_code":"REFUND","sale_id":"9T0916710M1105906"},"links":[],"event_version":"1.0"}"""

SIM_REVERSAL = b"""{"id":"WH-3EC545679X386831C-3D038940937933201","event_version":"1.0",
"create_time":"2014-10-23T00:19:27Z","resource_type":"sale","event_type":"PAYMENT.SALE.REVERSED",
"summary":"A $ 0.49 USD sale payment was reversed","resource":{"id":"77689802DL785834G",
"create_time":"2014-10-23T00:19:12Z","state":"completed","amount":{"total":"-0.49",
"currency":"USD","details":{"subtotal":"-0.64","tax":"0.08","shipping":"0.07"}},"links":[
{"href":"https://api.paypal.com/v1/payments/refund/77689802DL785834G","rel":"self",
"method":"GET"}]},"links":[]}"""


def test_real_sandbox_activation():
    """Does a real activation start the subscription, name its plan, payer and no trial?"""
    m = interpret_event(SANDBOX_ACTIVATED, NOW)
    assert not m.error and m.relevant
    assert m.event == "BILLING.SUBSCRIPTION.ACTIVATED" and m.status == "ACTIVE"
    assert m.subscription_ref == "I-2C054R2S7S33" and m.member_token == ""
    assert m.plan_refs == (PlanRef(PlanRefKind.REST_PLAN, "P-5G929033T98692209M3CB6EI"),)
    assert m.payer_email == "oscar.carrillo2941@alumnos.udg.mx"
    fact, resumed = m.facts  # the second lifts any pause before it (a resume is ACTIVATED too)
    assert (fact.kind, fact.key, fact.at) == (
        FactKind.STARTED,
        "activated",
        utc(2024, 8, 20, 4, 49, 32),
    )
    assert (resumed.kind, resumed.at) == (FactKind.REACTIVATED, fact.at)
    assert m.receiver is None and m.is_test is None and m.payment is None
    assert m.terms is None and m.terms_event == ""  # REST reports no terms: none required


@pytest.mark.parametrize(
    "event_type,status,expected",
    [
        ("BILLING.SUBSCRIPTION.CREATED", "APPROVAL_PENDING", []),
        ("BILLING.SUBSCRIPTION.UPDATED", "ACTIVE", []),
        ("BILLING.SUBSCRIPTION.CANCELLED", "CANCELLED", [(FactKind.CANCELLED, "cancelled")]),
        ("BILLING.SUBSCRIPTION.EXPIRED", "EXPIRED", [(FactKind.ENDED, "ended")]),
        (
            "BILLING.SUBSCRIPTION.SUSPENDED",
            "SUSPENDED",
            [(FactKind.SUSPENDED, "suspended:2018-12-10T21:20:49Z")],
        ),
    ],
)
def test_real_simulator_subscription_events(event_type, status, expected):
    """Are PayPal's own simulator bodies read, their invalid envelope time notwithstanding?"""
    m = interpret_event(sim_event(event_type, status, "2018-19-12T22:20:32.000Z"), NOW)
    assert not m.error and m.relevant and m.warnings == ()
    assert m.subscription_ref == "I-BW452GLLEP1G" and m.payer_email == "customer@example.com"
    assert keys(m) == expected
    assert all(f.at == utc(2018, 12, 10, 21, 20, 49) for f in m.facts)


def test_real_simulator_payment_failed():
    """Is a failed renewal dated by last_failed_payment, not by the older update_time?"""
    body = sim_event(
        "BILLING.SUBSCRIPTION.PAYMENT.FAILED",
        "ACTIVE",
        "2019-01-01T01:20:54.000Z",
        SIM_FAILED_PAYMENT,
    )
    [fact] = interpret_event(body, NOW).facts
    assert fact.kind is FactKind.PAYMENT_FAILED and fact.key == "failed:2019-01-01T01:20:49Z"
    assert fact.at == utc(2019, 1, 1, 1, 20, 49)


def test_real_sandbox_sale():
    """Is a real subscription sale one completed payment, recorded with its fee?"""
    m = interpret_event(SANDBOX_SALE, NOW)
    assert not m.error and m.relevant and m.completes_payment
    assert m.subscription_ref == "I-CP18AJLYDWR2" and m.txn_id == "7WT2824826029771W"
    [fact] = m.facts
    assert (fact.kind, fact.key, fact.txn_id, fact.amount) == (
        FactKind.PAYMENT_COMPLETED,
        "7WT2824826029771W:Completed",
        "7WT2824826029771W",
        Decimal("9.99"),
    )
    assert fact.at == utc(2023, 10, 26, 11, 10, 43)
    assert m.payment is not None and m.payment.fee == Decimal("0.69")
    assert m.payment.currency == "USD" and m.payment.at == fact.at
    assert m.money is not None and (m.money.gross, m.money.tax, m.money.fee) == (
        Decimal("9.99"),
        Decimal(0),
        Decimal("0.69"),
    )


def test_real_one_off_sale_is_ignored():
    """Is a sale with no billing agreement (another product's) stored and ignored?"""
    m = interpret_event(SIM_ONE_OFF_SALE, NOW)
    assert not m.error and not m.relevant and m.facts == () and m.payment is None
    assert "another product" in m.summary


@pytest.mark.parametrize(
    "body,refund,amount,currency",
    [
        (SIM_REFUND, "6YX43824R4443062K", Decimal("0.01"), "USD"),  # a negative total (2014)
        (PRETIX_REFUND, "75S46770PP192124D", Decimal("255.41"), "EUR"),  # a positive one
    ],
)
def test_real_refunds(body, refund, amount, currency):
    """Does a refund name its sale as the parent, with its amount made positive?"""
    m = interpret_event(body, NOW)
    assert not m.error and m.relevant
    assert m.parent_txn_id == "9T0916710M1105906" and m.txn_id == refund
    [fact] = m.facts
    assert (fact.kind, fact.key, fact.txn_id, fact.amount) == (
        FactKind.REFUNDED,
        f"{refund}:Refunded",
        "9T0916710M1105906",
        amount,
    )
    assert m.payment is None  # as for IPN: money back is no payment row of its own
    assert m.money is not None and m.money.gross == -amount and m.money.currency == currency


def test_real_reversal_naming_no_sale_is_flagged():
    """Is PayPal's sample reversal, which names no sale at all, unreadable (for an admin)?"""
    m = interpret_event(SIM_REVERSAL, NOW)
    assert m.summary == "unreadable" and "names no sale" in m.error
    assert m.event == "PAYMENT.SALE.REVERSED" and m.facts == ()


# -- The mapping, event by event ----------------------------------------------------------------


@pytest.mark.parametrize(
    "event_type,resource,expected",
    [
        (
            "BILLING.SUBSCRIPTION.RE-ACTIVATED",
            subscription(status_update_time="2026-02-01T10:00:00.000Z"),
            [(FactKind.REACTIVATED, "reactivated:2026-02-01T10:00:00Z")],
        ),
        (
            "BILLING.SUBSCRIPTION.SUSPENDED",
            subscription(status="SUSPENDED", status_update_time="2026-02-01T12:00:00+02:00"),
            [(FactKind.SUSPENDED, "suspended:2026-02-01T10:00:00Z")],
        ),
        (
            "BILLING.SUBSCRIPTION.CANCELLED",
            subscription(status="CANCELLED"),
            [(FactKind.CANCELLED, "cancelled")],
        ),
        (
            "BILLING.SUBSCRIPTION.EXPIRED",
            subscription(status="EXPIRED"),
            [(FactKind.ENDED, "ended")],
        ),
        ("BILLING.SUBSCRIPTION.CREATED", subscription(status="APPROVAL_PENDING"), []),
        ("BILLING.SUBSCRIPTION.UPDATED", subscription(), []),
        # An event type PayPal may add later about our subscriptions: linked, no effect.
        ("BILLING.SUBSCRIPTION.RENEWED", subscription(), []),
    ],
)
def test_subscription_events(event_type, resource, expected):
    """Does each subscription event give its fact and key, with the subscription's names?"""
    m = interpret_event(event(event_type, resource), NOW)
    assert not m.error and m.relevant and keys(m) == expected
    assert m.subscription_ref == "I-BW452GLLEP1G" and m.member_token == "tok-1"
    assert m.plan_refs == (PlanRef(PlanRefKind.REST_PLAN, "P-5ML4271244454362WXNWU5NQ"),)
    assert m.payer_email == "buyer@example.com" and m.txn_id == ""


def test_failed_renewal_dates():
    """Without last_failed_payment, is a failure dated by the event, else by its receipt?"""
    body = event(
        "BILLING.SUBSCRIPTION.PAYMENT.FAILED", subscription(), create_time="2026-02-15T10:00:05Z"
    )
    [fact] = interpret_event(body, NOW).facts
    assert (fact.key, fact.at) == ("failed:2026-02-15T10:00:05Z", utc(2026, 2, 15, 10, 0, 5))
    [fact] = interpret_event(
        event("BILLING.SUBSCRIPTION.PAYMENT.FAILED", subscription()), NOW
    ).facts
    assert (fact.key, fact.at) == ("failed:event:WH-TEST-1", NOW)


def trial_info(**fields: Any) -> dict[str, Any]:
    info: dict[str, Any] = {
        "cycle_executions": [
            {"tenure_type": "TRIAL", "sequence": 1, "cycles_completed": 1, "total_cycles": 1},
            {"tenure_type": "REGULAR", "sequence": 2, "cycles_completed": 0, "total_cycles": 0},
        ],
        "next_billing_time": "2026-01-29T12:00:00Z",
        "failed_payments_count": 0,
    }
    return {**info, **fields}


def test_activation_with_a_free_trial():
    """Does a begun, unpaid trial give TRIAL until the next billing time?"""
    m = interpret_event(
        event("BILLING.SUBSCRIPTION.ACTIVATED", subscription(billing_info=trial_info())), NOW
    )
    assert keys(m) == [(FactKind.STARTED, "activated"), (FactKind.TRIAL, "trial")]
    assert m.facts[1].until == utc(2026, 1, 29, 12) and m.facts[1].at == T0
    assert m.warnings == () and "free trial" in m.summary


@pytest.mark.parametrize(
    "resource,warned",
    [
        # Right after activation PayPal has not executed the trial cycle and says the next
        # billing is today (paypal/paypal-checkout-components#1336): no trial from that.
        (
            subscription(
                billing_info=trial_info(
                    cycle_executions=[
                        {"tenure_type": "TRIAL", "cycles_completed": 0, "cycles_remaining": 1},
                        {"tenure_type": "REGULAR", "cycles_completed": 0},
                    ],
                    next_billing_time="2026-01-15T12:00:00Z",
                )
            ),
            "",
        ),
        (  # the trial is over: a regular cycle has been billed
            subscription(
                billing_info=trial_info(
                    cycle_executions=[
                        {"tenure_type": "TRIAL", "cycles_completed": 1},
                        {"tenure_type": "REGULAR", "cycles_completed": 1},
                    ]
                )
            ),
            "",
        ),
        (subscription(billing_info=trial_info(next_billing_time=None)), ""),
        (subscription(billing_info=trial_info(next_billing_time="2026-01-10T00:00:00Z")), ""),
        (subscription(plan_overridden=True, billing_info=trial_info()), "overrides the plan"),
        (
            subscription(
                billing_info=trial_info(
                    last_payment={"amount": {"currency_code": "USD", "value": "1.00"}}
                )
            ),
            "",  # a paid trial: its payments give access (checked against the terms)
        ),
    ],
)
def test_activation_without_a_trial(resource, warned):
    """Is no trial granted when PayPal's word does not show a free one, saying why if odd?"""
    m = interpret_event(event("BILLING.SUBSCRIPTION.ACTIVATED", resource), NOW)
    assert keys(m) == [(FactKind.STARTED, "activated")]
    assert (warned in " ".join(m.warnings)) if warned else m.warnings == ()


def test_sale_events():
    """Do pending, denied and completed-in-another-state sales mirror IPN's handling?"""
    m = interpret_event(event("PAYMENT.SALE.PENDING", sale(state="pending")), NOW)
    assert keys(m) == [(FactKind.PAYMENT_PENDING, "7WT2824826029771W:Pending")]
    assert m.payment is not None and m.payment.status == "Pending" and not m.completes_payment
    m = interpret_event(event("PAYMENT.SALE.COMPLETED", sale(state="pending")), NOW)
    assert m.facts == () and m.payment is None and not m.error and "noted" in m.summary
    m = interpret_event(event("PAYMENT.SALE.DENIED", sale(state="denied")), NOW)
    assert keys(m) == [(FactKind.PAYMENT_FAILED, "7WT2824826029771W:Denied")]
    assert m.payment is None and m.facts[0].txn_id == "7WT2824826029771W"
    m = interpret_event(event("PAYMENT.SALE.DENIED", sale(billing_agreement_id=None)), NOW)
    assert not m.relevant and m.facts == ()


def test_sale_tax_is_not_price():
    """Is the tax PayPal details kept apart from the price, as IPN's `tax`?"""
    amount = {"total": "10.80", "currency": "EUR", "details": {"subtotal": "9.00", "tax": "1.80"}}
    m = interpret_event(event("PAYMENT.SALE.COMPLETED", sale(amount=amount)), NOW)
    assert m.money is not None and (m.money.gross, m.money.tax) == (
        Decimal("10.80"),
        Decimal("1.80"),
    )


def test_money_back_linking():
    """Is the taken-back sale found in sale_id, a `sale` link, or the sale itself; never in
    parent_payment, which names the PAY- payment?"""
    link = {
        "rel": "sale",
        "href": "https://api.paypal.com/v1/payments/sale/SALE-1",
        "method": "GET",
    }
    refund = {"id": "R-1", "state": "completed", "amount": {"total": "1.00", "currency": "USD"}}
    m = interpret_event(event("PAYMENT.SALE.REFUNDED", {**refund, "links": [link]}), NOW)
    assert m.parent_txn_id == "SALE-1" and keys(m) == [(FactKind.REFUNDED, "R-1:Refunded")]
    m = interpret_event(event("PAYMENT.SALE.REFUNDED", {**refund, "parent_payment": "PAY-1"}), NOW)
    assert m.summary == "unreadable" and "names no sale" in m.error
    itself = sale(state="reversed", billing_agreement_id="I-1")
    m = interpret_event(event("PAYMENT.SALE.REVERSED", itself), NOW)
    assert m.parent_txn_id == "7WT2824826029771W" and m.subscription_ref == "I-1"
    assert keys(m) == [(FactKind.REVERSED, "7WT2824826029771W:Reversed")]
    m = interpret_event(
        event("PAYMENT.SALE.REFUNDED", {**refund, "amount": None, "sale_id": "S"}), NOW
    )
    assert "names no amount" in m.error  # never read as a full refund


@pytest.mark.parametrize(
    "event_type",
    [
        "BILLING.PLAN.CREATED",
        "BILLING.PLAN.ACTIVATED",
        "CATALOG.PRODUCT.CREATED",
        "CHECKOUT.ORDER.APPROVED",
        "PAYMENT.SALE.SOMETHING-NEW",
    ],
)
def test_other_products_are_ignored(event_type):
    """Is any other event stored and ignored, whatever its resource holds?"""
    m = interpret_event(event(event_type, ["not", "an", "object"]), NOW)
    assert not m.relevant and not m.error and m.facts == () and m.event == event_type
    assert "another product" in m.summary


# -- The stand-in's bodies ------------------------------------------------------------------------

SIGNER: list[wh.Signer] = []


def stand_in(trial: bool = False) -> tuple[Sim, Subscription]:
    """The stand-in's engine in-process (no app, no network), one REST subscription approved."""
    if not SIGNER:
        SIGNER.append(wh.Signer())
    clock = SimClock(frozen=T0)
    sim = Sim(clock, Outbox(clock), SIGNER[0], "http://sim.test")
    sim.world.webhooks["WH-ID"] = Webhook("WH-ID", "http://gateway.test/paypal/webhook")
    spec: dict[str, Any] = {"name": "Gold", "price": "9.00"}
    if trial:
        spec.update(trial_unit="DAY", trial_count=7)
    plan = create_plan_from(sim, spec)
    sub = sim.create_rest(plan, "tok-123", "", "", {}, None)
    sim.approve_rest(sub, {"email": "buyer@example.com"})
    return sim, sub


def sent(sim: Sim, since: int = 0) -> list[tuple[str, bytes]]:
    return [(m.label, m.body) for m in sim.outbox.messages[since:] if m.kind == "webhook"]


def test_stand_in_lifecycle():
    """Is every event the stand-in sends over a subscription's life read as PayPal's would be?"""
    sim, sub = stand_in()
    start = len(sim.outbox.messages)
    sim.clock.advance(timedelta(days=31))
    sim.run_billing()
    payment = sub.last_payment
    assert payment is not None
    sim.refund(payment, Decimal("2.00"))
    sim.reverse(payment)
    sim.suspend(sub)
    sim.activate(sub)
    sim.cancel(sub)
    read = {label: interpret_event(body, NOW) for label, body in sent(sim)}
    assert all(not m.error and m.relevant for m in read.values()), read
    assert all(m.subscription_ref == sub.id for m in read.values())
    assert keys(read["BILLING.SUBSCRIPTION.ACTIVATED"]) == [(FactKind.STARTED, "activated")]
    assert read["BILLING.SUBSCRIPTION.CREATED"].member_token == "tok-123"
    renewal = [interpret_event(b, NOW) for _, b in sent(sim, start)][0]
    assert renewal.completes_payment and renewal.payment is not None
    assert renewal.payment.txn_id == payment.id and renewal.payment.amount == Decimal("9.00")
    refund = read["PAYMENT.SALE.REFUNDED"]
    assert refund.parent_txn_id == payment.id and refund.facts[0].amount == Decimal("2.00")
    assert read["PAYMENT.SALE.REVERSED"].parent_txn_id == payment.id
    assert keys(read["BILLING.SUBSCRIPTION.CANCELLED"]) == [(FactKind.CANCELLED, "cancelled")]
    assert keys(read["BILLING.SUBSCRIPTION.SUSPENDED"])[0][1].startswith("suspended:2026-02-")
    # The stand-in announces the resume as ACTIVATED, as PayPal's webhook list says.
    assert FactKind.REACTIVATED in {f.kind for f in read["BILLING.SUBSCRIPTION.ACTIVATED"].facts}


def test_stand_in_failed_renewals_are_distinct():
    """Are two failed renewals two facts (the stand-in's update_time does not move)?"""
    sim, sub = stand_in()
    start = len(sim.outbox.messages)
    sub.fail_next = 2
    sim.clock.advance(timedelta(days=31))
    sim.run_billing()
    sim.clock.advance(timedelta(days=5))
    sim.run_billing()
    failed = [
        interpret_event(b, NOW).facts[0]
        for label, b in sent(sim, start)
        if label == "BILLING.SUBSCRIPTION.PAYMENT.FAILED"
    ]
    assert len(failed) == 2 and failed[0].key != failed[1].key
    assert all(f.kind is FactKind.PAYMENT_FAILED and f.at > T0 for f in failed)


# -- Unreadable input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body,why",
    [
        (b"", "not JSON"),
        (b"event_type=PAYMENT.SALE.COMPLETED", "not JSON"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b'[{"event_type": "PAYMENT.SALE.COMPLETED"}]', "not a JSON object"),
        (b'"PAYMENT.SALE.COMPLETED"', "not a JSON object"),
        (b'{"event_type": "PAYMENT.SALE.COMPLETED", "resource": {"amount": NaN}}', "not a number"),
        (b'{"id": "WH-1"}', "no event_type"),
        (b'{"event_type": 7}', "not a string"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON"),
        (
            b'{"id": 1, "event_type": "PAYMENT.SALE.COMPLETED", "resource": {"id": '
            + b"9" * 5000
            + b"}}",
            "not JSON",
        ),
    ],
)
def test_unreadable_bodies(body, why):
    """Is a body that is no event object an error, never an exception?"""
    m = interpret_event(body, NOW)
    assert m.summary == "unreadable" and why in m.error and m.facts == ()


@pytest.mark.parametrize(
    "event_type,resource,why",
    [
        ("PAYMENT.SALE.COMPLETED", None, "no resource"),
        ("PAYMENT.SALE.COMPLETED", "7WT2824826029771W", "not an object"),
        ("BILLING.SUBSCRIPTION.CANCELLED", {"status": "CANCELLED"}, "has no id"),
        ("BILLING.SUBSCRIPTION.CANCELLED", subscription(id=12345), "id is not a string"),
        ("BILLING.SUBSCRIPTION.CANCELLED", subscription(id="I-" + "X" * 5000), "too long"),
        ("BILLING.SUBSCRIPTION.CANCELLED", subscription(subscriber="someone"), "inside a str"),
        ("BILLING.SUBSCRIPTION.ACTIVATED", subscription(plan_overridden="yes"), "true or false"),
        (
            "BILLING.SUBSCRIPTION.ACTIVATED",
            subscription(billing_info={"cycle_executions": {}}),
            "list",
        ),
        ("PAYMENT.SALE.COMPLETED", sale(id=None), "has no id"),
        ("PAYMENT.SALE.COMPLETED", sale(id=["7WT"]), "not a string"),
        ("PAYMENT.SALE.COMPLETED", sale(amount=None), "no amount"),
        ("PAYMENT.SALE.COMPLETED", sale(amount={"total": "nine", "currency": "USD"}), "amount"),
        ("PAYMENT.SALE.COMPLETED", sale(amount={"total": "1e3", "currency": "USD"}), "amount"),
        ("PAYMENT.SALE.COMPLETED", sale(amount={"total": True, "currency": "USD"}), "amount"),
        ("PAYMENT.SALE.COMPLETED", sale(amount={"total": "9" * 40, "currency": "USD"}), "amount"),
        (
            "PAYMENT.SALE.COMPLETED",
            sale(amount={"total": "99999999999", "currency": "USD"}),
            "range",
        ),
        ("PAYMENT.SALE.COMPLETED", sale(amount={"total": "9.99", "currency": 840}), "not a string"),
        ("PAYMENT.SALE.COMPLETED", sale(transaction_fee={"value": "-"}), "amount"),
    ],
)
def test_unreadable_resources(event_type, resource, why):
    """Is a resource that cannot be read an error naming what, never an exception?"""
    m = interpret_event(event(event_type, resource), NOW)
    assert m.summary == "unreadable" and why in m.error and m.facts == (), m.error
    assert m.event == event_type  # still filterable in the admin's log


def test_json_numbers_are_exact():
    """Is an amount sent as a JSON number read exactly (no float on the way)?"""
    body = event("PAYMENT.SALE.COMPLETED", sale(amount={"total": 9.99, "currency": "USD"}))
    assert interpret_event(body, NOW).facts[0].amount == Decimal("9.99")


def test_unreadable_times_fall_back_to_receipt():
    """Is an unreadable time replaced by the receipt time, with a warning, as IPN does?"""
    m = interpret_event(event("PAYMENT.SALE.COMPLETED", sale(create_time="yesterday")), NOW)
    assert not m.error and m.facts[0].at == NOW and m.payment is not None and m.payment.at == NOW
    [warning] = m.warnings
    assert "dated by its receipt" in warning and "create_time" in warning
    bad = subscription(
        status="SUSPENDED", status_update_time="2018-19-12T22:20:32Z", update_time=None
    )
    m = interpret_event(event("BILLING.SUBSCRIPTION.SUSPENDED", bad), NOW)
    [fact] = m.facts  # keyed by the text as written: a re-delivery is still the same fact
    assert (fact.at, fact.key) == (NOW, "suspended:2018-19-12T22:20:32Z") and len(m.warnings) == 1
    m = interpret_event(
        event("BILLING.SUBSCRIPTION.SUSPENDED", subscription(status_update_time=7)), NOW
    )
    assert not m.error and m.facts[0].key == "suspended:7" and m.warnings


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    [
        "id",
        "state",
        "status",
        "amount",
        "sale_id",
        "billing_agreement_id",
        "billing_info",
        "create_time",
        "status_update_time",
        "links",
        "subscriber",
        "plan_overridden",
        "custom_id",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    event_type=st.sampled_from(
        [
            "BILLING.SUBSCRIPTION.ACTIVATED",
            "BILLING.SUBSCRIPTION.PAYMENT.FAILED",
            "BILLING.SUBSCRIPTION.SUSPENDED",
            "PAYMENT.SALE.COMPLETED",
            "PAYMENT.SALE.REFUNDED",
            "PAYMENT.SALE.REVERSED",
            "PAYMENT.SALE.DENIED",
        ]
    ),
    resource=st.dictionaries(FIELDS, JSON, max_size=8),
)
def test_never_raises(event_type, resource):
    """Does any resource, however odd, give an interpretation rather than an exception?"""
    assert isinstance(interpret_event(event(event_type, resource), NOW), Interpretation)


def test_event_id():
    """Is the event's own id read, and "" for anything unreadable?"""
    assert event_id(SANDBOX_SALE) == "WH-5P841626K1319501S-93T49540D8390830S"
    assert event_id(b"not json") == "" and event_id(b"[]") == "" and event_id(b'{"id": 5}') == ""


# -- The same change by another channel ---------------------------------------------------------


def test_cancellation_is_one_fact_with_ipn():
    """Do IPN's subscr_cancel and the webhook's CANCELLED give the same key?"""
    ipn = interpret_body(
        b"txn_type=subscr_cancel&subscr_id=I-BW452GLLEP1G"
        b"&subscr_date=04%3A00%3A00+Jan+15%2C+2026+PST",
        NOW,
    )
    hook = interpret_event(
        event("BILLING.SUBSCRIPTION.CANCELLED", subscription(status="CANCELLED")), NOW
    )
    assert keys(ipn) == keys(hook) == [(FactKind.CANCELLED, "cancelled")]
    assert ipn.subscription_ref == hook.subscription_ref
