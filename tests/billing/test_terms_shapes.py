"""Every shape PayPal sells, in the pure core: paid and second trials, a fixed number of
payments. What each payment buys, when the term ends, what a payment may amount to, how
reported terms differ from the offer, and how a signup IPN reports them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from gateway.billing import Fact, PeriodUnit, compute, status_at
from gateway.billing import FactKind as K
from gateway.billing.formats.ipn import IpnMessage, interpret, reported_terms
from gateway.billing.rules.entitlements import State, explain
from gateway.billing.rules.reasons import reason
from gateway.billing.rules.terms import AgreedTerms, differences, expected_amounts

T0 = datetime(2026, 1, 15, 12, tzinfo=UTC)
M, D, W = PeriodUnit.MONTH, PeriodUnit.DAY, PeriodUnit.WEEK

#: The issue's real subscription: a day at 11.00, then four payments of 9.00 a month.
PAID_TRIAL = AgreedTerms(Decimal("9.00"), "USD", 1, M, 1, D, Decimal("11.00"), cycles=4)
#: A free week, a month at 5.00, then 9.00 a month until cancelled.
TWO_TRIALS = AgreedTerms(
    Decimal("9.00"), "USD", 1, M, 7, D, Decimal(0), trial2_count=1, trial2_unit=M,
    trial2_price=Decimal("5.00"),
)  # fmt: skip


def pay(txn: str, at: datetime, amount: str = "9.00") -> Fact:
    return Fact(K.PAYMENT_COMPLETED, at, key=f"{txn}:C", txn_id=txn, amount=Decimal(amount))


def start(at: datetime = T0) -> Fact:
    return Fact(K.STARTED, at, key="signup")


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def test_a_paid_trial_buys_its_own_stretch_then_regular_periods():
    """11.00 buys a day; each 9.00 a month from the trial's end, anchored there."""
    facts = [start(), pay("T", T0, "11.00"), pay("R1", day(1))]
    ent = compute(facts, PAID_TRIAL.billing_period)
    assert [(p.start, p.end) for p in ent.periods] == [
        (T0, day(1)),
        (day(1), datetime(2026, 2, 16, 12, tzinfo=UTC)),
    ]
    assert ent.state is State.ACTIVE and ent.last_of is None and ent.ended_at is None


def test_the_last_of_four_payments_ends_the_term_without_an_end_of_term_message():
    """After the fourth regular payment: ended at the paid-through date, access until then,
    no grace even if a failure notice comes; said so to the member."""
    regular = [datetime(2026, m, 16, 12, tzinfo=UTC) for m in (1, 2, 3, 4)]
    facts = [start(), pay("T", T0, "11.00")] + [pay(f"R{i}", at) for i, at in enumerate(regular)]
    ent = compute(facts, PAID_TRIAL.billing_period)
    end = datetime(2026, 5, 16, 12, tzinfo=UTC)
    assert (ent.state, ent.paid_through, ent.ended_at, ent.access_until) == (
        State.ENDED,
        end,
        end,
        end,
    )
    assert ent.last_of == 4 and status_at(ent, end - timedelta(days=1)) == "ended"
    assert status_at(ent, end) == "expired"
    assert "last of 4 payments" in " ".join(explain(ent))
    assert reason(ent, end - timedelta(days=1)).startswith("Ends on 16 May 2026 (the last of 4")
    assert reason(ent, end) == "Ended on 16 May 2026, after the last of 4 payments."
    failed = Fact(K.PAYMENT_FAILED, end, key="failed")
    assert compute([*facts, failed], PAID_TRIAL.billing_period).grace_until is None
    # PayPal's own end of term changes nothing; three payments are not the last.
    eot = Fact(K.ENDED, end + timedelta(hours=2), key="ended")
    assert compute([*facts, eot], PAID_TRIAL.billing_period).ended_at == end
    three = compute(facts[:-1], PAID_TRIAL.billing_period)
    assert three.state is State.ACTIVE and three.last_of is None


def test_a_refunded_last_payment_is_not_the_last():
    """Refunds take a payment out of the count: the term is not complete without it."""
    regular = [datetime(2026, m, 16, 12, tzinfo=UTC) for m in (1, 2, 3, 4)]
    facts = [start(), pay("T", T0, "11.00")] + [pay(f"R{i}", at) for i, at in enumerate(regular)]
    refund = Fact(K.REFUNDED, day(100), key="R3:Refunded", txn_id="R3")
    ent = compute([*facts, refund], PAID_TRIAL.billing_period)
    assert ent.last_of is None and ent.state is State.ACTIVE


def test_two_trials_free_then_paid():
    """The free week is the signup's trial fact; 5.00 buys the month after it."""
    trial = Fact(K.TRIAL, T0, key="trial", until=day(7))
    ent = compute([start(), trial, pay("S", day(7), "5.00")], TWO_TRIALS.billing_period)
    assert ent.trial_until == day(7)
    assert ent.paid_through == datetime(2026, 2, 22, 12, tzinfo=UTC)
    ent = compute(
        [start(), trial, pay("S", day(7), "5.00"), pay("R", datetime(2026, 2, 22, 12, tzinfo=UTC))],
        TWO_TRIALS.billing_period,
    )
    assert ent.paid_through == datetime(2026, 3, 22, 12, tzinfo=UTC)


def test_a_paid_then_free_trial_is_one_payments_stretch():
    """A day at 11.00 followed by a free week: the 11.00 buys eight days."""
    terms = replace(PAID_TRIAL, trial2_count=1, trial2_unit=W, trial2_price=Decimal(0))
    ent = compute([start(), pay("T", T0, "11.00")], terms.billing_period)
    assert ent.paid_through == day(8)


def test_expected_amounts_follow_the_trials():
    """The trial price while that trial lasts, the regular price always."""
    assert expected_amounts(PAID_TRIAL, T0, T0) == {Decimal("11.00"), Decimal("9.00")}
    assert expected_amounts(PAID_TRIAL, T0, day(1)) == {Decimal("9.00")}
    assert expected_amounts(TWO_TRIALS, T0, day(7)) == {Decimal("5.00"), Decimal("9.00")}
    assert expected_amounts(TWO_TRIALS, T0, day(40)) == {Decimal("9.00")}
    assert expected_amounts(PAID_TRIAL, None, T0) == {Decimal("9.00")}


@pytest.mark.parametrize(
    "reported,found",
    [
        (PAID_TRIAL, []),
        (replace(PAID_TRIAL, trial_price=Decimal("1.00")), ["trial 1 D at 1.00 instead of 1 D"]),
        (replace(PAID_TRIAL, cycles=None), ["unlimited payments instead of 4"]),
        (replace(PAID_TRIAL, cycles=12), ["12 payments instead of 4"]),
        (
            replace(PAID_TRIAL, trial2_count=1, trial2_unit=M, trial2_price=Decimal(0)),
            ["second trial 1 M at 0 instead of none"],
        ),
        (replace(TWO_TRIALS, trial2_price=Decimal("0.50")), None),
    ],
)
def test_differences_compare_every_term(reported, found):
    """The issue's two differences are gone when the offer has the same terms; each other
    change is named."""
    offer = TWO_TRIALS if found is None else PAID_TRIAL
    got = differences(offer, reported)
    if found is None:
        assert got == ["second trial 1 M at 0.50 instead of 1 M at 5.00"]
    else:
        assert len(got) == len(found) and all(f in g for f, g in zip(found, got, strict=True))


def test_old_terms_without_structured_trials_still_read():
    """Terms recorded before two trials were described: the second trial was text."""
    old = {**PAID_TRIAL.to_json(), "second_trial": "5.00 for 1 M"}
    del old["trial2_count"], old["trial2_unit"], old["trial2_price"]
    terms = AgreedTerms.from_json(old)
    assert (terms.trial2_count, terms.trial2_unit, terms.trial2_price) == (1, M, Decimal("5.00"))
    assert AgreedTerms.from_json(TWO_TRIALS.to_json()) == TWO_TRIALS


def signup(**fields: str) -> IpnMessage:
    base = {
        "txn_type": "subscr_signup",
        "subscr_id": "I-1",
        "subscr_date": "04:00:00 Jan 15, 2026 PST",
        "mc_amount3": "9.00",
        "period3": "1 M",
        "recurring": "1",
        "mc_currency": "USD",
    }
    return IpnMessage({**base, **fields})


def test_a_signup_reports_both_trials_and_the_number_of_payments():
    """a1/p1, a2/p2 and recur_times read into the same terms our plan offers."""
    got = reported_terms(signup(mc_amount1="11.00", period1="1 D", recur_times="4"))
    assert got is not None and differences(PAID_TRIAL, got) == []
    got = reported_terms(signup(mc_amount1="0.00", period1="7 D", mc_amount2="5.00", period2="1 M"))
    assert got is not None and differences(TWO_TRIALS, got) == []


def test_only_leading_free_trials_are_a_trial_fact():
    """Free week then a free month: one trial fact to the end of both; a paid first
    trial gives none (its payment gives access)."""
    both_free = signup(mc_amount1="0.00", period1="7 D", mc_amount2="0.00", period2="1 M")
    m = interpret(both_free, T0)
    assert [f.kind for f in m.facts] == [K.STARTED, K.TRIAL]
    assert m.facts[1].until == datetime(2026, 2, 22, 12, tzinfo=UTC)
    m = interpret(signup(mc_amount1="11.00", period1="1 D"), T0)
    assert [f.kind for f in m.facts] == [K.STARTED]
