"""What an admin and a member read after PayPal's messages: the timeline's states in words
(never "none") and the member's "Why" after a refund or a chargeback (#23)."""

from __future__ import annotations

import html
from datetime import timedelta

from sqlalchemy import select

from models import Notification, Subscription
from tests.inbox import process_due
from tests.paypal import ipn_builders as ipn

SUB = "I-TIMELINE0001"


def deliver(client, body: bytes) -> None:
    r = client.post("/paypal/ipn", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200
    while process_due():
        pass


def outcome(db) -> str:
    """The latest message's outcome."""
    return db.session.scalars(select(Notification.outcome).order_by(Notification.id.desc())).first()


def test_the_timeline_and_the_why_read_as_people_would(
    client, db, clock, verified, make_plan, make_user, admin, login_as, new_client
):
    """Signup, payment, cancel, partial then full refund: each state said in words and dates."""
    make_plan("premium-monthly", role="premium")
    t = clock.now()
    member = make_user("walker@example.com")
    deliver(client, ipn.signup(SUB, t))
    assert outcome(db).endswith("then: waiting for its first payment, no access yet")
    sub = db.session.scalar(select(Subscription))
    sub.user_id = member.id
    db.session.commit()
    deliver(client, ipn.payment(SUB, "TXNTIMELINE00001", t + timedelta(minutes=1)))
    assert outcome(db).endswith("then: active, access until 15 Feb 2026")
    deliver(client, ipn.event(SUB, "subscr_cancel", t + timedelta(days=1)))
    assert outcome(db).endswith("then: cancelled (no more renewals), access until 15 Feb 2026")

    def why() -> str:
        return html.unescape(login_as(member, browser=new_client()).get("/account").data.decode())

    partial = ipn.money_back(
        "TXNTIMELINE00001", "RFTIMELINE00001", t + timedelta(days=2), "Refunded", "-2.00"
    )
    deliver(client, partial)
    assert (
        "2.00 USD refunded on 17 Jan 2026; access unchanged. "
        "Cancelled on 16 Jan 2026; access until 15 Feb 2026." in why()
    )
    rest = ipn.money_back(
        "TXNTIMELINE00001", "RFTIMELINE00002", t + timedelta(days=3), "Refunded", "-7.00"
    )
    deliver(client, rest)
    assert outcome(db).endswith("then: cancelled (no more renewals), no access")
    assert (
        "Refunded 7.00 USD on 18 Jan 2026: that payment's period no longer gives access. "
        "Cancelled on 16 Jan 2026." in why()
    )

    page = login_as(admin, browser=new_client()).get(f"/admin/subscriptions/{sub.id}").data.decode()
    assert "waiting for its first payment, no access yet" in page
    assert "active, access until 15 Feb 2026" in page
    assert "none" not in page.split("Timeline")[1].split("Audit trail")[0]
