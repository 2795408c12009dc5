"""The member portal over real HTTP against the stand-in: a plan changed in place (REST
revise, approved at PayPal), pause and resume (suspend / activate), and a Standard
subscription cancelled from the site through the classic NVP API."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select

from models import Subscription
from paypal_sim.rest import create_plan_from
from tests.paypal.test_rest_e2e import local, sub_of, subscribe_and_return

NVP = {
    "PAYPAL_NVP_USER": "sim-api-user",
    "PAYPAL_NVP_PASSWORD": "sim-api-password",
    "PAYPAL_NVP_SIGNATURE": "sim-api-signature",
}


def test_change_plan_in_place_after_approval_at_paypal(
    rest, client, login_as, member, make_plan, db, sim
):
    """Does a revise preview the price, wait for PayPal, then swap the roles?"""
    make_plan("pro-monthly", role="pro", price="29.00", paypal_plan_id="P-PRO")
    create_plan_from(sim, {"id": "P-PRO", "name": "Pro", "price": "29.00"})
    paypal_id = subscribe_and_return(rest, client, login_as, member)
    rest.advance(hours=1)  # the member changes plan a while after paying
    sub = sub_of(db, member)
    assert "Change plan" in client.get("/account").data.decode()
    preview = client.get(f"/account/subscriptions/{sub.id}/change/pro-monthly").data.decode()
    assert "29.00 USD" in preview and "approve the new price" in preview

    page = client.post(f"/account/subscriptions/{sub.id}/change/pro-monthly")
    assert page.status_code == 303
    approve = page.headers["Location"]
    assert approve.startswith(rest.paypal.base + "/webapps/billing/subscriptions/revise?")
    # Nothing changes on the member's word: still premium, not pro.
    assert (
        client.get("/pro").status_code == 403 and sub_of(db, member).plan.code == "premium-monthly"
    )

    token = approve.split("ba_token=")[1]
    back = rest.paypal.http.post(
        rest.paypal.url("/sim/checkout/revise"),
        data={"ba_token": token, "decision": "approve"},
        allow_redirects=False,
        timeout=5,
    ).headers["Location"]
    assert urlsplit(back).path == f"/account/subscriptions/{sub.id}/changed"
    assert client.get(local(back, rest.url)).status_code == 302
    assert sim.world.subscriptions[paypal_id].plan_id == "P-PRO"
    assert sub_of(db, member).plan.code == "pro-monthly"  # PayPal's answer moved it
    assert client.get("/pro").status_code == 200 and client.get("/premium").status_code == 403

    # The UPDATED webhook is the same change again; a renewal charges the new price.
    rest.settle()
    rest.advance(days=31)
    sub = sub_of(db, member)
    assert sub.plan.code == "pro-monthly" and sub.state == "active"
    assert client.get("/pro").status_code == 200
    assert not [n for n in rest.notes() if n.status == "flagged"], [
        (n.txn_type, n.outcome) for n in rest.notes() if n.status == "flagged"
    ]


def test_pause_keeps_paid_access_then_lapses_and_resume_bills_again(
    rest, client, login_as, member, db, sim, app
):
    """Is pausing off by default; once allowed, does a pause keep what was paid for only?"""
    paypal_id = subscribe_and_return(rest, client, login_as, member)
    rest.advance(hours=1)
    sub = sub_of(db, member)
    assert client.get(f"/account/subscriptions/{sub.id}/pause").status_code == 409
    app.config["MEMBER_PAUSE"] = True
    confirm = client.get(f"/account/subscriptions/{sub.id}/pause").data.decode()
    assert "You keep the access you paid for" in confirm and 'method="post"' in confirm
    assert client.post(f"/account/subscriptions/{sub.id}/pause").status_code == 302
    assert sim.world.subscriptions[paypal_id].status == "SUSPENDED"
    sub = sub_of(db, member)
    assert sub.state == "suspended" and sub.access_until == sub.paid_through
    assert "Paused since" in client.get("/account").data.decode()
    rest.settle()  # the SUSPENDED webhook: the same fact
    assert client.get("/premium").status_code == 200
    rest.advance(days=32)  # nothing billed while paused: access lapses at paid-through
    assert client.get("/premium").status_code == 403

    assert client.post(f"/account/subscriptions/{sub.id}/resume").status_code == 302
    assert sub_of(db, member).state == "active"  # PayPal's answer, asked at once
    rest.advance(minutes=1)  # PayPal bills from the day of the resume
    sub = sub_of(db, member)
    assert sim.world.subscriptions[paypal_id].status == "ACTIVE"
    assert sub.state == "active" and client.get("/premium").status_code == 200


def test_standard_subscription_cancelled_through_the_classic_api(
    live, client, login_as, member, premium, db, sim, app, verified
):
    """With NVP credentials, is a Standard subscription cancelled from the site, with a reason?"""
    app.extensions.pop("ipn_verifier", None)  # the real postback, to the stand-in
    _, back = live.subscribe(client, login_as, member)
    live.settle()
    sub = db.session.scalar(select(Subscription).where(Subscription.user_id == member.id))
    assert sub.state == "active"
    assert client.get(f"/account/subscriptions/{sub.id}/cancel").status_code == 409
    app.config.update(NVP)
    page = client.get(f"/account/subscriptions/{sub.id}/cancel").data.decode()
    assert "Would you tell us why?" in page
    r = client.post(
        f"/account/subscriptions/{sub.id}/cancel",
        data={"reason": "other", "reason_note": "  moving   abroad ", "confirm": "yes"},
    )
    assert r.status_code == 302, r.data
    assert sim.world.subscriptions[sub.paypal_id].status == "CANCELLED"
    live.settle()  # PayPal's subscr_cancel IPN, verified and applied
    sub = db.session.get(Subscription, sub.id)
    assert sub.state == "cancelled" and sub.access_until == sub.paid_through
    assert (sub.cancel_reason, sub.cancel_note) == ("other", "moving abroad")
    # A second click: PayPal says the profile is already cancelled; nothing breaks.
    again = client.post(f"/account/subscriptions/{sub.id}/cancel", data={"confirm": "yes"})
    assert again.status_code in (302, 409)


def test_classic_api_refuses_bad_credentials(live, app, sim):
    """Does the stand-in's NVP refuse a wrong signature, as PayPal does (10002)?"""
    import pytest

    from gateway.paypal import nvp
    from gateway.paypal.api import ApiError

    app.config.update(NVP, PAYPAL_NVP_SIGNATURE="wrong")
    with app.app_context(), pytest.raises(ApiError) as e:
        nvp.manage_profile(app.config, "I-NOSUCHPROFIL", "Cancel", "x")
    assert e.value.name == "10002"
