"""A Standard message that carries only `item_name` names the plan of that name (exactly,
any case), never one of two plans that share it, and never over an item number."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.billing.formats.ipn import IpnMessage, plan_refs
from gateway.billing.rules.interpretation import PlanRef
from gateway.billing.rules.statuses import PlanRefKind
from gateway.subscriptions.plan_identity import find_plan, parse_lines
from models import Flag, Payment, PlanIdentifier, Subscription

from .test_plan_identity import T, deliver, standard


@pytest.fixture
def gold(db, make_plan):
    plan = make_plan("gold-monthly", role="premium", price="9.00")
    plan.name = "Gold Membership"
    db.session.commit()
    return plan


def test_refs_name_the_item_only_when_nothing_more_specific_is_there():
    """Is item_name a plan identifier only without an item_number or a button id?"""
    only_name = IpnMessage({"txn_type": "subscr_signup", "item_name": "Gold Membership"})
    assert plan_refs(only_name) == (PlanRef(PlanRefKind.ITEM_NAME, "Gold Membership"),)
    for more in ({"item_number": "gold-monthly"}, {"btn_id": "8ABC"}):
        msg = IpnMessage({"txn_type": "subscr_signup", "item_name": "Gold Membership", **more})
        assert PlanRefKind.ITEM_NAME not in {r.kind for r in plan_refs(msg)}


def test_a_subscription_named_only_by_item_name_gets_its_plan(client, db, gold, verified):
    """Do subscr_* messages with only item_name (any case, any spacing) link to the plan
    of that name, with access computed and no "unknown plan" flag?"""
    deliver(client, standard("I-BYNAME", "TXNBYNAME0000001", item_name="gold  MEMBERSHIP"))
    sub = db.session.scalar(select(Subscription))
    assert sub.plan_id == gold.id and sub.access_until == T + timedelta(days=31)
    assert db.session.scalar(select(Flag).where(Flag.kind == "plan")) is None


def test_a_name_two_plans_share_picks_neither(client, db, gold, make_plan, verified):
    """Is a name shared by two plans (case aside) ambiguous: no plan, an "unknown plan"
    flag naming the item name, money recorded?"""
    twin = make_plan("gold-yearly", role="premium", price="90.00", period_unit="Y")
    twin.name = "GOLD membership"
    db.session.commit()
    deliver(client, standard("I-TWIN", "TXNTWIN000000001", item_name="Gold Membership"))
    sub = db.session.scalar(select(Subscription))
    assert sub.plan_id is None
    assert db.session.scalar(select(Payment.txn_id)) == "TXNTWIN000000001"
    flag = db.session.scalar(select(Flag).where(Flag.kind == "plan"))
    assert flag is not None and "item_name 'Gold Membership'" in flag.message


def test_a_name_is_matched_exactly(client, db, gold, verified):
    """Is "Gold" (a part of the name) no match?"""
    deliver(client, standard("I-PART", "TXNPART000000001", item_name="Gold"))
    assert db.session.scalar(select(Subscription)).plan_id is None


def test_an_item_number_naming_no_plan_is_not_overruled_by_the_name(client, db, gold, verified):
    """A message whose item_number names no plan of ours stays unknown, whatever its name."""
    naming = {"item_number": "someone-elses", "item_name": "Gold Membership"}
    deliver(client, standard("I-OTHER", "TXNOTHER00000001", **naming))
    assert db.session.scalar(select(Subscription)).plan_id is None


def test_an_admin_listed_name_names_the_plan(app, db, gold, make_plan):
    """Does a "name: ..." line the admin lists name that plan, before plans' own names?"""
    other = make_plan("silver-monthly", role="premium", price="5.00")
    refs, problems = parse_lines("name:  Old   Gold membership\n")
    assert problems == [] and refs == [PlanRef(PlanRefKind.ITEM_NAME, "Old Gold membership")]
    db.session.add(
        PlanIdentifier(
            plan_id=other.id,
            kind=PlanRefKind.ITEM_NAME,
            value=refs[0].value,
            match_key=refs[0].key,
        )
    )
    db.session.commit()
    found = find_plan([PlanRef(PlanRefKind.ITEM_NAME, "old gold MEMBERSHIP")])
    assert found is not None and found.id == other.id
    found = find_plan([PlanRef(PlanRefKind.ITEM_NAME, "Gold Membership")])
    assert found is not None and found.id == gold.id
