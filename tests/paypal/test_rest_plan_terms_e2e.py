"""A REST plan generated from a plan with a paid trial and a fixed number of payments,
end to end against the stand-in: `flask plans publish` creates it, the member subscribes
through the REST checkout, PayPal charges the trial price then each regular payment and
stops; the subscription ends after its last payment; `rebuild` finds nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from gateway.billing.formats.paypal_plan import plan_body, terms_of_plan
from gateway.billing.rules.periods import PeriodUnit
from gateway.billing.rules.statuses import SubscriptionState
from gateway.billing.rules.terms import AgreedTerms
from gateway.reconciliation.rebuild import rebuild
from models import Flag, Payment, Plan
from tests.paypal.test_rest_e2e import approve_at_paypal, local, sub_of

TERMS = AgreedTerms(
    price=Decimal("9.00"),
    currency="USD",
    period_count=1,
    period_unit=PeriodUnit.MONTH,
    trial_count=7,
    trial_unit=PeriodUnit.DAY,
    trial_price=Decimal(0),
    trial2_count=1,
    trial2_unit=PeriodUnit.DAY,
    trial2_price=Decimal("11.00"),
    cycles=4,
)


def test_the_plan_body_has_every_cycle_and_reads_back():
    """TRIAL cycles in sequence (free: no pricing), then REGULAR with total_cycles."""
    body = plan_body(TERMS, "PROD-1", "Two trials")
    cycles = body["billing_cycles"]
    assert [(c["tenure_type"], c["sequence"], c["total_cycles"]) for c in cycles] == [
        ("TRIAL", 1, 1),
        ("TRIAL", 2, 1),
        ("REGULAR", 3, 4),
    ]
    assert "pricing_scheme" not in cycles[0]
    assert cycles[1]["pricing_scheme"]["fixed_price"] == {"value": "11.00", "currency_code": "USD"}
    assert cycles[2]["frequency"] == {"interval_unit": "MONTH", "interval_count": 1}
    assert terms_of_plan(body) == TERMS
    unlimited = plan_body(AgreedTerms(Decimal("9.00"), "USD", 1, PeriodUnit.MONTH), "P", "x")
    assert unlimited["billing_cycles"][0]["total_cycles"] == 0
    assert terms_of_plan(unlimited).cycles is None


@pytest.fixture
def fixed_rest(rest, make_plan, runner, db):
    """A paid day at 11.00, then 3 monthly payments of 9.00, published at the stand-in."""
    make_plan(
        "fixed-rest",
        price="9.00",
        trial_count=1,
        trial_unit="D",
        trial_price=Decimal("11.00"),
        payment_count=3,
    )
    out = runner.invoke(args=["plans", "publish", "fixed-rest"])
    assert out.exit_code == 0, out.output
    db.session.expire_all()
    plan = db.session.scalar(select(Plan).where(Plan.code == "fixed-rest"))
    assert plan.paypal_plan_id and plan.paypal_plan_id in out.output
    assert runner.invoke(args=["plans", "check", "fixed-rest"]).exit_code == 0
    return rest


def test_check_says_when_paypal_sells_other_terms(fixed_rest, runner, db):
    """Our plan changed after publishing: `plans check` names the difference."""
    plan = db.session.scalar(select(Plan).where(Plan.code == "fixed-rest"))
    plan.payment_count = 6
    db.session.commit()
    out = runner.invoke(args=["plans", "check", "fixed-rest"])
    assert out.exit_code == 1 and "3 payments instead of 6" in out.output


def test_paid_trial_then_three_payments_over_rest(
    fixed_rest, client, login_as, member, db, clock, sim
):
    rest = fixed_rest
    start = clock.now()
    login_as(member)
    page = client.post("/checkout/subscribe/fixed-rest")
    assert page.status_code in (302, 303), page.data
    rest.paypal.control("clock/advance", seconds=0.6)
    back = approve_at_paypal(rest, page.headers["Location"])
    assert client.get(local(back, rest.url)).status_code == 200
    rest.settle()
    sub = sub_of(db, member)
    assert sub.state is SubscriptionState.ACTIVE
    assert sub.paid_through - start < timedelta(days=1, seconds=5)  # the paid day
    rest.advance(days=1)
    rest.advance(days=31)
    sub = sub_of(db, member)
    assert sub.state is SubscriptionState.ACTIVE and sub.renews
    rest.advance(days=30)  # the third and last regular payment
    sub = sub_of(db, member)
    amounts = sorted(p.amount for p in db.session.scalars(select(Payment)))
    assert amounts == [Decimal("9.00")] * 3 + [Decimal("11.00")]
    assert sub.state is SubscriptionState.ENDED and sub.ended_at == sub.paid_through
    assert sub.paid_through > clock.now()  # ended in advance: access runs to its end
    problems = [f.message for f in db.session.scalars(select(Flag))]
    assert problems == []
    rest.advance(days=32)  # PayPal expires it; nothing more is charged
    assert db.session.query(Payment).count() == 4
    (paypal_sub,) = sim.world.subscriptions.values()
    assert paypal_sub.status == "EXPIRED"
    sub = sub_of(db, member)
    assert sub.state is SubscriptionState.ENDED and sub.access_until <= clock.now()
    assert [f.message for f in db.session.scalars(select(Flag))] == []
    assert rebuild(clock.now(), batch_size=10).found == 0
