"""The members' answers to "why do you cancel?" as admins read them: on the subscription's
page (the label and the member's own words) and counted on the dashboard over its weeks,
from an index."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from gateway.billing import Fact
from gateway.billing import FactKind as K
from gateway.paging import explain
from gateway.subscriptions import cancel_reasons
from models import db
from tests.web.test_dashboard import table

#: name -> (days ago it was cancelled, or None: still renewing; the answer; the note)
STORIES = {
    "recent": (2, "too_expensive", ""),
    "older": (10, "too_expensive", ""),
    "words": (20, "other", "  moving   abroad "),
    "last-year": (300, "not_using", ""),
    "awaiting-paypal": (None, "missing", ""),  # answered; PayPal's cancel not yet applied
    "silent": (1, "", ""),
}


@pytest.fixture
def subs(db, clock, make_user, make_plan, make_subscription):
    t = clock.now()
    plan = make_plan("premium-monthly", role="premium")
    out = {}
    for name, (days, reason, note) in STORIES.items():
        paid = t - timedelta(days=(days or 0) + 5)
        facts = [Fact(K.PAYMENT_COMPLETED, paid, key=name, txn_id=name, amount=Decimal("9.00"))]
        if days is not None:
            facts.append(Fact(K.CANCELLED, t - timedelta(days=days), key=f"c-{name}"))
        sub = make_subscription(make_user(f"{name}@example.com"), plan, facts, f"I-{name}")
        cancel_reasons.keep(sub, reason, note)
        out[name] = sub
    db.session.commit()
    return out


def test_admin_reads_the_members_reason_on_the_subscription_page(client, admin, login_as, subs):
    """Is the answer shown as its label, with the member's own words for "other"?"""
    login_as(admin)
    page = client.get(f"/admin/subscriptions/{subs['words'].id}").text
    assert "cancelling: <strong>Another reason: moving abroad</strong>" in page
    page = client.get(f"/admin/subscriptions/{subs['recent'].id}").text
    assert "cancelling: <strong>It costs too much</strong>" in page
    assert 'id="member-reason"' not in client.get(f"/admin/subscriptions/{subs['silent'].id}").text


def test_dashboard_counts_why_members_cancel_over_its_weeks(client, admin, login_as, subs):
    """Are the period's cancellations counted by answer, older ones only in a wider window?"""
    login_as(admin)
    rows = table(client.get("/admin/").text, "reasons")
    assert rows == [
        ["Reason", "Cancellations"],
        ["It costs too much", "2"],
        ["I don't use it enough", "0"],
        ["Something I need is missing", "0"],  # answered, but PayPal has not cancelled it yet
        ["I'm moving to another service", "0"],
        ["Technical problems", "0"],
        ["Another reason", "1"],
        ["All who answered", "3"],
    ]
    wide = dict(r for r in table(client.get("/admin/?weeks=52").text, "reasons")[1:])
    assert wide["I don't use it enough"] == "1" and wide["All who answered"] == "4"
    narrow = dict(r for r in table(client.get("/admin/?weeks=1").text, "reasons")[1:])
    assert narrow["It costs too much"] == "1" and narrow["All who answered"] == "1"


def index_names(plan: dict) -> set[str]:
    found = {plan["Index Name"]} if "Index Name" in plan else set()
    for child in plan.get("Plans", []):
        found |= index_names(child)
    return found


def test_the_count_reads_the_reason_index(app, subs, clock):
    """Is the period's count answered from ix_subscriptions_cancel_reason, not the table?"""
    stmt = cancel_reasons.statement(clock.now() - timedelta(days=30))
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = explain(stmt)["Plan"]
        assert index_names(plan) == {"ix_subscriptions_cancel_reason"}, plan
    else:
        sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
        steps = " ".join(str(r[-1]) for r in db.session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
        assert "ix_subscriptions_cancel_reason" in steps, steps
    db.session.rollback()
