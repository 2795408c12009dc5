"""The access rules of docs/architecture.md, table-driven, and independence from fact order
and repeats."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.billing import Fact, PeriodUnit, Policy, Terms, compute, status_at
from gateway.billing import FactKind as K
from gateway.billing.rules.entitlements import CancelPolicy, State

MONTHLY = Terms(1, PeriodUnit.MONTH)


def d(month, day, hour=0, year=2026):
    return datetime(year, month, day, hour, tzinfo=UTC)


def pay(txn, at, amount="9.00"):
    return Fact(K.PAYMENT_COMPLETED, at, key=f"{txn}:Completed", txn_id=txn, amount=Decimal(amount))


def fact(kind, at, txn=None, amount=None, until=None, key=None):
    return Fact(
        kind,
        at,
        key=key or f"{kind.value}:{at.isoformat()}:{txn}",
        txn_id=txn,
        amount=Decimal(amount) if amount else None,
        until=until,
    )


# name, facts, expected (state, paid_through, grace_until, access_until)
CASES = [
    ("signup alone grants nothing", [fact(K.STARTED, d(1, 1))], (State.PENDING, None, None, None)),
    (
        "a payment buys one calendar month",
        [fact(K.STARTED, d(1, 1)), pay("A", d(1, 1))],
        (State.ACTIVE, d(2, 1), None, d(2, 1)),
    ),
    (
        "renewals chain on the billing cycle",
        [pay("A", d(1, 1)), pay("B", d(2, 1)), pay("C", d(3, 1))],
        (State.ACTIVE, d(4, 1), None, d(4, 1)),
    ),
    (
        "an early renewal adds a full period, no days lost",
        [pay("A", d(1, 1)), pay("B", d(1, 30))],
        (State.ACTIVE, d(3, 1), None, d(3, 1)),
    ),
    (
        "31 January keeps its anchor through February",
        [pay("A", d(1, 31)), pay("B", d(2, 28)), pay("C", d(3, 31))],
        (State.ACTIVE, d(4, 30), None, d(4, 30)),
    ),
    (
        "a late retry still pays the period it was for",
        [pay("A", d(1, 1)), fact(K.PAYMENT_FAILED, d(2, 1)), pay("B", d(2, 4))],
        (State.ACTIVE, d(3, 1), None, d(3, 1)),
    ),
    (
        "a payment after a long lapse starts a new cycle",
        [pay("A", d(1, 1)), pay("B", d(5, 10))],
        (State.ACTIVE, d(6, 10), None, d(6, 10)),
    ),
    (
        "cancel keeps the paid-through date",
        [pay("A", d(1, 1)), fact(K.CANCELLED, d(1, 10))],
        (State.CANCELLED, d(2, 1), None, d(2, 1)),
    ),
    (
        "a failed renewal gives grace",
        [pay("A", d(1, 1)), fact(K.PAYMENT_FAILED, d(2, 1))],
        (State.ACTIVE, d(2, 1), d(2, 4), d(2, 4)),
    ),
    (
        "recovery after a failure clears the grace",
        [pay("A", d(1, 1)), fact(K.PAYMENT_FAILED, d(2, 1)), pay("B", d(2, 2))],
        (State.ACTIVE, d(3, 1), None, d(3, 1)),
    ),
    (
        "end of term ends grace: not a second past paid-through",
        [pay("A", d(1, 1)), fact(K.PAYMENT_FAILED, d(2, 1)), fact(K.ENDED, d(2, 2))],
        (State.ENDED, d(2, 1), None, d(2, 1)),
    ),
    (
        "suspension stops grace",
        [pay("A", d(1, 1)), fact(K.PAYMENT_FAILED, d(2, 1)), fact(K.SUSPENDED, d(2, 1, 1))],
        (State.SUSPENDED, d(2, 1), None, d(2, 1)),
    ),
    (
        "reactivation resumes",
        [pay("A", d(1, 1)), fact(K.SUSPENDED, d(1, 5)), fact(K.REACTIVATED, d(1, 6))],
        (State.ACTIVE, d(2, 1), None, d(2, 1)),
    ),
    (
        "a cancel after a failure ends the grace",
        [pay("A", d(1, 1)), fact(K.PAYMENT_FAILED, d(2, 1)), fact(K.CANCELLED, d(2, 2))],
        (State.CANCELLED, d(2, 1), None, d(2, 1)),
    ),
    (
        "a refund removes the period that payment bought",
        [pay("A", d(1, 1)), pay("B", d(2, 1)), fact(K.REFUNDED, d(2, 3), "B", "-9.00")],
        (State.ACTIVE, d(2, 1), None, d(2, 1)),
    ),
    (
        "a refund of the first payment removes only its month",
        [pay("A", d(1, 1)), pay("B", d(2, 1)), fact(K.REFUNDED, d(2, 3), "A", "-9.00")],
        (State.ACTIVE, d(3, 1), None, d(3, 1)),
    ),
    (
        "a partial refund keeps the period",
        [pay("A", d(1, 1)), fact(K.REFUNDED, d(1, 3), "A", "-2.00")],
        (State.ACTIVE, d(2, 1), None, d(2, 1)),
    ),
    (
        "partial refunds adding up to the payment remove it",
        [
            pay("A", d(1, 1)),
            fact(K.REFUNDED, d(1, 3), "A", "-4.00"),
            fact(K.REFUNDED, d(1, 4), "A", "-5.00"),
        ],
        (State.REFUNDED, None, None, None),  # honest: nothing is paid for any more
    ),
    (
        "one partial refund reported by IPN, webhook and our request counts once",
        [
            pay("A", d(1, 1)),
            fact(K.REFUNDED, d(1, 3), "A", "-5.00", key="R1:Refunded:subscr_payment"),
            fact(K.REFUNDED, d(1, 3), "A", "5.00", key="R1:Refunded"),
            fact(K.REFUNDED, d(1, 3, 1), "A", "5.00", key="R1:Refunded"),
        ],
        (State.ACTIVE, d(2, 1), None, d(2, 1)),  # 5 of 9 refunded: the period stays
    ),
    (
        "two different partial refunds still add up",
        [
            pay("A", d(1, 1)),
            fact(K.REFUNDED, d(1, 3), "A", "5.00", key="R1:Refunded"),
            fact(K.REFUNDED, d(1, 4), "A", "-4.00", key="R2:Refunded:subscr_payment"),
        ],
        (State.REFUNDED, None, None, None),
    ),
    (
        "a reversal removes the period",
        [pay("A", d(1, 1)), fact(K.REVERSED, d(1, 5), "A", "-9.00")],
        (State.CHARGED_BACK, None, None, None),
    ),
    (
        "a trial still running keeps a refunded subscription active",
        [
            fact(K.TRIAL, d(1, 1), until=d(3, 1)),
            pay("A", d(1, 1)),
            fact(K.REFUNDED, d(1, 5), "A", "-9.00"),
        ],
        (State.ACTIVE, d(3, 1), None, d(3, 1)),
    ),
    (
        "a cancelled reversal restores it",
        [
            pay("A", d(1, 1)),
            fact(K.REVERSED, d(1, 5), "A", "-9.00"),
            fact(K.REVERSAL_CANCELLED, d(1, 20), "A", "9.00"),
        ],
        (State.ACTIVE, d(2, 1), None, d(2, 1)),
    ),
    (
        "a free trial opens access until it ends",
        [fact(K.STARTED, d(1, 1)), fact(K.TRIAL, d(1, 1), until=d(1, 8))],
        (State.ACTIVE, d(1, 8), None, d(1, 8)),
    ),
    (
        "the first payment after a trial continues from its end",
        [fact(K.TRIAL, d(1, 1), until=d(1, 8)), pay("A", d(1, 8))],
        (State.ACTIVE, d(2, 8), None, d(2, 8)),
    ),
    (
        "an admin grant gives access until its date",
        [fact(K.GRANTED, d(1, 1), until=d(6, 1))],
        (State.ACTIVE, None, None, d(6, 1)),
    ),
    (
        "a grant never shortens paid access",
        [pay("A", d(1, 1)), fact(K.GRANTED, d(1, 2), until=d(1, 20))],
        (State.ACTIVE, d(2, 1), None, d(2, 1)),
    ),
    (
        "a revoke ends access at once",
        [pay("A", d(1, 1)), fact(K.REVOKED, d(1, 10))],
        (State.REVOKED, d(2, 1), None, d(1, 10)),
    ),
    (
        "a grant after a revoke reopens access",
        [
            fact(K.GRANTED, d(1, 1), until=d(3, 1)),
            fact(K.REVOKED, d(1, 10)),
            fact(K.GRANTED, d(1, 12), until=d(4, 1)),
        ],
        (State.ACTIVE, None, None, d(4, 1)),
    ),
    (
        "a pending payment grants nothing",
        [fact(K.STARTED, d(1, 1)), fact(K.PAYMENT_PENDING, d(1, 1), "A")],
        (State.PENDING, None, None, None),
    ),
    (
        "the same payment reported twice buys one period",
        [
            pay("A", d(1, 1)),
            Fact(
                K.PAYMENT_COMPLETED, d(1, 1, 1), key="A:resent", txn_id="A", amount=Decimal("9.00")
            ),
        ],
        (State.ACTIVE, d(2, 1), None, d(2, 1)),
    ),
]


@pytest.mark.parametrize("name,facts,expected", CASES, ids=[c[0] for c in CASES])
def test_rule(name, facts, expected):
    """Does each access rule give the documented dates?"""
    ent = compute(facts, MONTHLY, Policy(grace_days=3))
    assert (ent.state, ent.paid_through, ent.grace_until, ent.access_until) == expected


@pytest.mark.parametrize("name,facts,expected", CASES, ids=[c[0] for c in CASES])
def test_rule_ignores_order_and_repeats(name, facts, expected):
    """Does any arrival order, with repeats, give the same result as the story order?"""
    rng = random.Random(name)
    for _ in range(20):
        shuffled = facts + rng.sample(facts, k=rng.randint(0, len(facts)))
        rng.shuffle(shuffled)
        assert compute(shuffled, MONTHLY) == compute(facts, MONTHLY)


def test_immediate_cancel_policy_ends_access_at_cancel():
    """With the "immediate" policy, does a cancel end access when it happens?"""
    ent = compute(
        [pay("A", d(1, 1)), fact(K.CANCELLED, d(1, 10))],
        MONTHLY,
        Policy(cancel=CancelPolicy.IMMEDIATE),
    )
    assert ent.access_until == d(1, 10)


def test_grace_days_is_a_policy():
    """Does the grace length follow the policy, and can it be switched off?"""
    facts = [pay("A", d(1, 1)), fact(K.PAYMENT_FAILED, d(2, 1))]
    assert compute(facts, MONTHLY, Policy(grace_days=7)).access_until == d(2, 8)
    assert compute(facts, MONTHLY, Policy(grace_days=0)).access_until == d(2, 1)


def test_periods_record_what_each_payment_bought():
    """Is each counted payment's period recorded, and a refunded one left out?"""
    ent = compute(
        [
            pay("A", d(1, 1)),
            pay("B", d(2, 1)),
            pay("C", d(3, 1)),
            fact(K.REFUNDED, d(3, 2), "C", "-9.00"),
        ],
        MONTHLY,
    )
    assert [(p.txn_id, p.start, p.end) for p in ent.periods] == [
        ("A", d(1, 1), d(2, 1)),
        ("B", d(2, 1), d(3, 1)),
    ]


@pytest.mark.parametrize(
    "at,expected",
    [
        (d(1, 5), "active"),
        (d(1, 31), "past_due"),  # the failure came a day early: past due already
        (d(2, 1), "past_due"),
        (d(2, 3, 23), "past_due"),
        (d(2, 4), "expired"),
    ],
)
def test_status_at_moves_with_the_clock(at, expected):
    """Does the status word follow the clock: active, past due from the failure, then expired?"""
    story = [pay("A", d(1, 1)), fact(K.PAYMENT_FAILED, d(1, 31))]
    ent = compute([f for f in story if f.at <= at], MONTHLY)  # the facts known by then
    assert status_at(ent, at) == expected


def test_status_words():
    """Are trial, cancelled, pending and revoked shown as such?"""
    trial = compute([fact(K.TRIAL, d(1, 1), until=d(1, 8))], MONTHLY)
    assert status_at(trial, d(1, 2)) == "trial"
    cancelled = compute([pay("A", d(1, 1)), fact(K.CANCELLED, d(1, 2))], MONTHLY)
    assert status_at(cancelled, d(1, 3)) == "cancelled"
    assert status_at(cancelled, d(2, 1)) == "expired"
    assert status_at(compute([fact(K.STARTED, d(1, 1))], MONTHLY), d(1, 2)) == "pending"
    revoked = compute([fact(K.GRANTED, d(1, 1), until=d(3, 1)), fact(K.REVOKED, d(1, 2))], MONTHLY)
    assert status_at(revoked, d(1, 3)) == "revoked"


# --- property: any permutation and any repeats give the in-order result ---------------

KINDS = [
    K.PAYMENT_COMPLETED,
    K.PAYMENT_FAILED,
    K.REFUNDED,
    K.REVERSED,
    K.REVERSAL_CANCELLED,
    K.CANCELLED,
    K.SUSPENDED,
    K.REACTIVATED,
    K.ENDED,
    K.TRIAL,
    K.GRANTED,
    K.REVOKED,
    K.STARTED,
]


@st.composite
def fact_stories(draw):
    n = draw(st.integers(1, 12))
    facts = []
    for i in range(n):
        kind = draw(st.sampled_from(KINDS))
        at = d(1, 1) + timedelta(hours=draw(st.integers(0, 24 * 200)))
        txn = f"T{draw(st.integers(0, 4))}"
        until = at + timedelta(days=draw(st.integers(1, 90)))
        facts.append(
            Fact(
                kind,
                at,
                key=f"{kind.value}:{i}",
                txn_id=txn,
                amount=Decimal(draw(st.sampled_from(["9.00", "-9.00", "-3.00"]))),
                until=until,
            )
        )
    return facts


@settings(max_examples=300, deadline=None)
@given(fact_stories(), st.randoms(use_true_random=False))
def test_any_order_any_repeats_same_state(facts, rnd):
    """Do shuffled, duplicated facts always reach the in-order state?"""
    expected = compute(facts, MONTHLY)
    delivered = facts + [rnd.choice(facts) for _ in range(rnd.randint(0, 5))]
    rnd.shuffle(delivered)
    assert compute(delivered, MONTHLY) == expected
    if expected.access_until and expected.paid_through:
        assert expected.access_until <= max(
            expected.grace_until or expected.paid_through,
            max((f.until for f in facts if f.kind is K.GRANTED), default=expected.paid_through),
        )
