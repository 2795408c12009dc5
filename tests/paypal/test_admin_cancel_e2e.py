"""An admin's "cancel at PayPal" over real HTTP against the stand-in: a REST subscription
through the Subscriptions API, a Standard one through the classic NVP API; a confirmation
page first, the reason audited, and the state changed only by PayPal's answer or IPN."""

from __future__ import annotations

from sqlalchemy import select

from gateway.clock import utc_text
from models import AuditEntry, Subscription
from tests.paypal.test_portal_e2e import NVP
from tests.paypal.test_rest_e2e import sub_of, subscribe_and_return


def audits(db, sub_id: int) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry).where(
                AuditEntry.subject_id == sub_id, AuditEntry.action == "cancel-at-paypal"
            )
        )
    )


def test_admin_cancels_a_rest_subscription_at_paypal(
    rest, client, login_as, member, admin, db, sim, app
):
    """Does the confirmed cancel reach PayPal's API, apply its answer and keep paid time?"""
    paypal_id = subscribe_and_return(rest, client, login_as, member)
    rest.advance(hours=1)
    sub = sub_of(db, member)
    paid_through = sub.paid_through
    staff = login_as(admin, browser=app.test_client())
    url = f"/admin/subscriptions/{sub.id}/cancel"
    assert f'href="{url}">Cancel at PayPal…</a>' in staff.get(f"/admin/subscriptions/{sub.id}").text
    confirm = staff.get(url).text
    assert "the Subscriptions API" in confirm and 'name="confirm" value="yes"' in confirm
    assert f"until {utc_text(paid_through)}</strong>" in confirm
    # No confirm field (an old page, a hand-made POST), or no reason: nothing happens.
    assert staff.post(url, data={"cancel-reason": "fraud suspected"}).status_code == 400
    assert staff.post(url, data={"confirm": "yes"}).status_code == 400
    assert sim.world.subscriptions[paypal_id].status == "ACTIVE"
    assert sub_of(db, member).state == "active" and not audits(db, sub.id)

    done = staff.post(url, data={"confirm": "yes", "cancel-reason": "fraud suspected"})
    assert done.status_code == 303, done.text
    assert sim.world.subscriptions[paypal_id].status == "CANCELLED"
    sub = sub_of(db, member)  # PayPal's answer, asked for and applied at once
    assert sub.state == "cancelled" and sub.access_until == paid_through
    [entry] = audits(db, sub.id)
    assert (entry.actor_id, entry.reason) == (admin.id, "fraud suspected")
    assert entry.details == {"paypal_id": paypal_id, "via": "the Subscriptions API"}
    page = staff.get(done.headers["Location"]).text
    assert "Cancelled at PayPal: no more renewals." in page and "Cancel at PayPal…" not in page
    assert staff.get(url).status_code == 409  # nothing left to cancel
    assert client.get("/premium").status_code == 200  # the member keeps what was paid for
    rest.advance(days=32)
    assert client.get("/premium").status_code == 403


def test_admin_cancels_a_standard_subscription_by_the_classic_api(
    live, client, login_as, member, premium, admin, db, sim, app, verified
):
    """Without NVP credentials, is there no cancel; with them, does PayPal's IPN decide?"""
    app.extensions.pop("ipn_verifier", None)  # the real postback, to the stand-in
    live.subscribe(client, login_as, member)
    live.settle()
    sub = db.session.scalar(select(Subscription).where(Subscription.user_id == member.id))
    assert sub.state == "active"
    staff = login_as(admin, browser=app.test_client())
    url = f"/admin/subscriptions/{sub.id}/cancel"
    assert "Cancel at PayPal…" not in staff.get(f"/admin/subscriptions/{sub.id}").text
    refused = staff.get(url)
    assert refused.status_code == 409 and "PAYPAL_NVP_" in refused.text

    app.config.update(NVP)
    confirm = staff.get(url).text
    assert "the classic NVP API" in confirm and "its IPN" in confirm
    done = staff.post(url, data={"confirm": "yes", "cancel-reason": "asked by phone"})
    assert done.status_code == 303, done.text
    assert sim.world.subscriptions[sub.paypal_id].status == "CANCELLED"
    db.session.expire_all()
    sub = db.session.get(Subscription, sub.id)
    assert sub.state == "active"  # nothing on our word: PayPal's message has not arrived
    assert "the subscription shows it once PayPal" in staff.get(done.headers["Location"]).text
    [entry] = audits(db, sub.id)
    assert entry.reason == "asked by phone"
    assert entry.details == {"paypal_id": sub.paypal_id, "via": "the classic NVP API"}

    live.settle()  # PayPal's subscr_cancel IPN, verified and applied
    sub = db.session.get(Subscription, sub.id)
    assert sub.state == "cancelled" and sub.access_until == sub.paid_through
    assert staff.get(url).status_code == 409
