"""Passes on the member's and the admin's pages: offered with Buy (or Extend), shown as
"ends on …" or "lifetime" instead of renewing, and created in the plan editor."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from gateway.billing import Fact, FactKind
from gateway.billing.rules.statuses import PlanKind
from gateway.roles.service import ensure_roles
from models import Plan
from tests.web.test_admin import PLAN as BASE


def paid(at, txn="TXNPASS1", amount="20.00"):
    return Fact(
        FactKind.PAYMENT_COMPLETED, at, key=f"{txn}:Completed", txn_id=txn, amount=Decimal(amount)
    )


def test_plans_page_offers_a_pass_to_buy_then_to_extend(
    client, login_as, make_user, make_plan, make_subscription, clock, app
):
    """Is a pass offered once-off with Buy, and as Extend (with its end) to its holder?"""
    app.config["PASS_CHECKOUT"] = "standard"
    plan = make_plan(
        "month-pass",
        role="premium",
        price="20.00",
        period_count=30,
        period_unit="D",
        kind=PlanKind.PASS,
    )
    member = make_user("m@example.com")
    anon = client.get("/plans").data.decode()
    assert "once: 30 days of access, no renewal" in anon and "Log in to buy" in anon
    login_as(member)
    page = client.get("/plans").data.decode()
    assert "/passes/buy/month-pass" in page and "Buy with PayPal" in page
    sub = make_subscription(member, plan, [paid(clock.now())], paypal_id="TXNPASS1")
    page = client.get("/plans").data.decode()
    assert f"it ends on {sub.paid_through:%d %b %Y}" in page and "Extend with PayPal" in page
    assert "renews" not in page
    buy = client.post("/passes/buy/month-pass").data.decode()
    assert 'name="cmd" value="_xclick"' in buy and 'name="amount" value="20.00"' in buy
    assert "once at PayPal for 30 days of access" in buy


def test_account_and_admin_show_when_a_pass_ends(
    client, login_as, make_user, make_plan, make_subscription, clock, admin
):
    """Does My subscriptions say "ends on …" (not a next charge), and the admin page too?"""
    plan = make_plan(
        "month-pass", role="premium", period_count=30, period_unit="D", kind=PlanKind.PASS
    )
    member = make_user("m@example.com")
    sub = make_subscription(member, plan, [paid(clock.now())], paypal_id="TXNPASS1")
    assert sub.paid_through == clock.now() + timedelta(days=30) and not sub.renews
    login_as(member)
    account = client.get("/account").data.decode()
    assert f"ends on {sub.paid_through:%d %b %Y}" in account
    assert "Cancel renewal…" not in account and "Renews on" not in account
    assert client.get("/premium").status_code == 200
    login_as(admin)
    detail = client.get(f"/admin/subscriptions/{sub.id}").data.decode()
    assert "A pass, bought once" in detail and "ends on" in detail
    assert "Cancel at PayPal" not in detail


def test_a_lifetime_pass_reads_lifetime(
    client, login_as, make_user, make_plan, make_subscription, clock
):
    """Is a lifetime pass shown as "lifetime" everywhere a date would be, and not for sale again?"""
    plan = make_plan("forever", role="premium", price="99.00", kind=PlanKind.PASS, lifetime=True)
    member = make_user("m@example.com")
    make_subscription(member, plan, [paid(clock.now(), amount="99.00")], paypal_id="TXNPASS1")
    login_as(member)
    account = client.get("/account").data.decode()
    assert "Lifetime access: it never ends." in account and "9999" not in account
    page = client.get("/plans").data.decode()
    assert "You hold this pass: lifetime." in page and "/passes/buy/forever" not in page


def test_plan_editor_makes_passes(client, db, admin, login_as, clock):
    """Can an admin make a pass and a lifetime pass, and not a lifetime subscription?"""
    (premium,) = ensure_roles(["premium"], clock.now())
    db.session.commit()
    PLAN = {**BASE, "roles": str(premium.id)}  # noqa: N806
    login_as(admin)
    r = client.post(
        "/admin/plans/new", data={**PLAN, "kind": "pass", "period_count": "7", "period_unit": "D"}
    )
    assert r.status_code == 303
    plan = db.session.scalar(select(Plan).where(Plan.code == "gold"))
    assert plan.kind is PlanKind.PASS and not plan.lifetime and plan.term_label == "7 days"
    r = client.post("/admin/plans/new", data={**PLAN, "code": "sub-life", "lifetime": "y"})
    assert r.status_code == 400 and b"Only a pass can be lifetime." in r.data
    r = client.post(
        "/admin/plans/new", data={**PLAN, "code": "life", "kind": "pass", "lifetime": "y"}
    )
    assert r.status_code == 303
    assert db.session.scalar(select(Plan).where(Plan.code == "life")).lifetime
    r = client.post(
        "/admin/plans/new",
        data={**PLAN, "code": "trial-pass", "kind": "pass", "trial_count": "3", "trial_unit": "D"},
    )
    assert r.status_code == 400 and b"A pass has no trial" in r.data
    assert b"pass: lifetime" in client.get("/admin/plans").data
