"""A plan is recognised by any of its PayPal identifiers, and money is never stranded: a
subscription no identifier names is kept, flagged, and given its plan by an admin."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from gateway.billing.rules.interpretation import PlanRef
from gateway.billing.rules.statuses import PlanRefKind
from gateway.subscriptions.plan_identity import find_plan
from models import AuditEntry, Flag, Payment, PlanIdentifier, Subscription
from paypal_sim.formats import encode_form, ipn_date
from tests.inbox import process_due

T = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
COMMON = [
    ("business", "merchant@example.com"),
    ("receiver_email", "merchant@example.com"),
    ("test_ipn", "1"),
    ("charset", "windows-1252"),
]


def standard(sub: str, txn: str, **naming: str) -> list[bytes]:
    """A signup and a payment of a Standard subscription named only by `naming`."""
    signup = [
        ("txn_type", "subscr_signup"),
        ("subscr_id", sub),
        ("subscr_date", ipn_date(T)),
        ("mc_amount3", "9.00"),
        ("period3", "1 M"),
        ("recurring", "1"),
        ("mc_currency", "USD"),
        ("payer_email", "Buyer@Example.com"),
        *naming.items(),
    ]
    pay = [
        ("txn_type", "subscr_payment"),
        ("subscr_id", sub),
        ("txn_id", txn),
        ("payment_date", ipn_date(T)),
        ("payment_status", "Completed"),
        ("mc_gross", "9.00"),
        ("mc_currency", "USD"),
        *naming.items(),
    ]
    return [encode_form(signup + COMMON, "windows-1252"), encode_form(pay + COMMON, "windows-1252")]


def profile_payment(profile: str, txn: str, product: str) -> bytes:
    """An Express Checkout recurring profile's payment: no item_number at all."""
    fields = [
        ("txn_type", "recurring_payment"),
        ("recurring_payment_id", profile),
        ("product_name", product),
        ("payment_cycle", "Monthly"),
        ("txn_id", txn),
        ("payment_date", ipn_date(T)),
        ("payment_status", "Completed"),
        ("mc_gross", "9.00"),
        ("mc_currency", "USD"),
    ]
    return encode_form(fields + COMMON, "windows-1252")


def deliver(client, bodies: list[bytes]) -> None:
    for body in bodies:
        r = client.post("/paypal/ipn", data=body, content_type="application/x-www-form-urlencoded")
        assert r.status_code == 200
    while process_due():
        pass


@pytest.fixture
def premium(db, make_plan):
    plan = make_plan("premium-monthly", role="premium", price="9.00", paypal_plan_id="P-5ML4271")
    for kind, value in (
        (PlanRefKind.BUTTON, "8ABCDEF12345"),
        (PlanRefKind.PROFILE, "Premium membership"),
    ):
        db.session.add(
            PlanIdentifier(
                plan_id=plan.id, kind=kind, value=value, match_key=PlanRef(kind, value).key
            )
        )
    db.session.commit()
    return plan


@pytest.mark.parametrize(
    "naming",
    [
        {"btn_id": "8ABCDEF12345"},
        {"hosted_button_id": "8abcdef12345"},  # PayPal's ids, any case
        {"item_number": "PREMIUM-MONTHLY"},  # a button typed in capitals
    ],
)
def test_standard_subscriptions_link_by_any_identifier(client, db, premium, verified, naming):
    """Hosted buttons and upper-case item numbers name the plan: access is computed."""
    deliver(client, standard("I-NAMED", "TXNNAMED00000001", **naming))
    sub = db.session.scalar(select(Subscription))
    assert sub.plan_id == premium.id and sub.access_until == T + timedelta(days=31)
    assert db.session.scalar(select(Flag).where(Flag.kind == "plan")) is None


def test_a_recurring_profile_links_by_its_description(client, db, premium, verified):
    """A recurring_payment (no item_number) names the plan by its product name, any case."""
    deliver(client, [profile_payment("I-PROFILE", "TXNPROFILE000001", "premium  MEMBERSHIP")])
    assert db.session.scalar(select(Subscription)).plan_id == premium.id


def test_a_rest_plan_id_names_its_plan(app, db, premium):
    """P-... ids (the REST channel's) find the plan whose PayPal plan id it is."""
    found = find_plan([PlanRef(PlanRefKind.REST_PLAN, "p-5ml4271")])
    assert found is not None and found.id == premium.id
    assert find_plan([PlanRef(PlanRefKind.REST_PLAN, "P-OTHER")]) is None


def test_an_unnamed_subscription_is_kept_flagged_and_assigned_by_an_admin(
    client, db, premium, verified, admin, login_as, make_user, make_plan
):
    """No identifier at all: the row and payment are kept, flagged; an admin assigns the
    plan and the member in the UI; access is then exactly what the stored payment bought."""
    member = make_user("buyer@example.com")
    deliver(client, standard("I-NAMELESS", "TXNNAMELESS00001"))
    sub = db.session.scalar(select(Subscription))
    assert sub.plan_id is None and sub.user_id is None and sub.payer_email == "Buyer@Example.com"
    assert db.session.scalar(select(Payment)).txn_id == "TXNNAMELESS00001"
    assert {f.kind for f in db.session.scalars(select(Flag))} == {"plan", "unclaimed"}

    login_as(admin)
    page = client.get(f"/admin/subscriptions/{sub.id}")
    assert b"unknown: assign one below" in page.data and b"its payments match" in page.data
    assert b"buyer@example.com" in page.data  # the candidate, from PayPal's payer e-mail
    r = client.post(
        f"/admin/subscriptions/{sub.id}/assign",
        data={
            "assign-plan": str(premium.id),
            "assign-email": "buyer@example.com",
            "assign-reason": "hosted button made before the plan was set up",
        },
    )
    assert r.status_code == 303
    db.session.expire_all()
    sub = db.session.get(Subscription, sub.id)
    assert (sub.plan_id, sub.user_id) == (premium.id, member.id)
    assert sub.access_until == T + timedelta(days=31)
    assert all(f.resolved_at is not None for f in db.session.scalars(select(Flag)))
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "assign")) is not None
    login_as(member)
    assert client.get("/premium").status_code == 200
    again = client.post(
        f"/admin/subscriptions/{sub.id}/assign",
        data={"assign-plan": str(premium.id), "assign-reason": "twice"},
    )
    assert again.status_code == 403  # members may not assign anything
    login_as(admin)
    other = make_plan("premium-other", role="premium", price="9.00")
    replace = client.post(
        f"/admin/subscriptions/{sub.id}/assign",
        data={"assign-plan": str(other.id), "assign-reason": "try to swap the plan"},
    )
    assert replace.status_code == 409 and b"already has a plan" in replace.data


def test_assigning_a_plan_checks_the_signup_terms_it_reported(
    client, db, make_plan, verified, admin, login_as
):
    """A nameless signup with a year of free trial: no trial on assignment, a terms flag."""
    plan = make_plan("premium-monthly", role="premium", price="9.00")
    bodies = standard("I-SNEAKY", "TXNSNEAKY0000001")
    bodies[0] = bodies[0].replace(b"period3=", b"mc_amount1=0.00&period1=1+Y&period3=")
    deliver(client, bodies[:1])  # the signup only: no payment for a year
    sub = db.session.scalar(select(Subscription))
    assert sub.access_until is None
    login_as(admin)
    r = client.post(
        f"/admin/subscriptions/{sub.id}/assign",
        data={"assign-plan": str(plan.id), "assign-reason": "found the button"},
    )
    assert r.status_code == 303
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).access_until is None
    flag = db.session.scalar(select(Flag).where(Flag.kind == "terms"))
    assert flag is not None and "no trial granted" in flag.message


def test_the_plan_editor_edits_identifiers_and_refuses_duplicates(
    client, db, admin, login_as, make_plan, premium
):
    """Identifiers are edited as lines; one already naming another plan is refused."""
    other = make_plan("pro-monthly", role="pro", price="29.00")
    login_as(admin)
    form = {
        "code": "pro-monthly",
        "name": "Pro",
        "roles": str(other.roles[0].id),
        "price": "29.00",
        "currency": "USD",
        "period_count": "1",
        "period_unit": "M",
        "trial_unit": "",
        "active": "y",
    }
    taken = client.post(
        f"/admin/plans/{other.id}/edit", data={**form, "identifiers": "button: 8abcdef12345"}
    )
    assert taken.status_code == 400 and b"already names plan premium-monthly" in taken.data
    bad = client.post(f"/admin/plans/{other.id}/edit", data={**form, "identifiers": "colour: x"})
    assert bad.status_code == 400 and b"write &#39;kind: value&#39;" in bad.data
    ok = client.post(
        f"/admin/plans/{other.id}/edit",
        data={**form, "identifiers": "button: PRO-BTN\nprofile:  Pro   plan "},
    )
    assert ok.status_code == 303, re.findall(rb"<li>[^<]*</li>", ok.data)
    found = find_plan([PlanRef(PlanRefKind.PROFILE, "pro plan")])
    assert found is not None and found.id == other.id
    page = client.get(f"/admin/plans/{other.id}/edit").data
    assert b"button: PRO-BTN" in page and b"profile: Pro plan" in page
