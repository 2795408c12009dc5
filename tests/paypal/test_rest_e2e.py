"""REST Subscriptions over real HTTP against the stand-in: the server creates the
subscription, every return is checked with PayPal, webhooks are signed, and the
ask-paypal job fills in what both message channels lost."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from gateway.clock import day_time_text
from gateway.jobs.ask_paypal import ask_paypal
from models import Checkout, Flag, Notification, Payment, Subscription
from paypal_sim.rest import create_plan_from
from tests.paypal.conftest import WEBHOOK_ID
from tests.servers import Listener, serve


def sub_of(db, user):
    db.session.expire_all()
    return db.session.scalar(select(Subscription).where(Subscription.user_id == user.id))


def start(rest, client, login_as, user) -> tuple[str, str]:
    """Member clicks Subscribe: we create the subscription and send them to approve it.
    Returns (our checkout token, PayPal's approve URL)."""
    login_as(user)
    page = client.post("/checkout/subscribe/premium-monthly")
    assert page.status_code in (302, 303), page.data
    approve = page.headers["Location"]
    assert approve.startswith(rest.paypal.base + "/webapps/billing/subscriptions?ba_token=")
    checkout = rest.db.session.scalar(
        select(Checkout).where(Checkout.user_id == user.id).order_by(Checkout.id.desc())
    )
    return checkout.token, approve


def approve_at_paypal(rest, approve_url: str) -> str:
    """The buyer approves at PayPal; returns where PayPal sends the browser back."""
    token = parse_qs(urlsplit(approve_url).query)["ba_token"][0]
    back = rest.paypal.http.post(
        rest.paypal.url("/sim/checkout/rest"),
        data={"ba_token": token, "decision": "approve", "email": "buyer@example.com"},
        allow_redirects=False,
        timeout=5,
    )
    assert back.status_code == 303, back.text
    return back.headers["Location"]


def local(url: str, base: str) -> str:
    return url.replace(base, "")


def flags(db, kind: str) -> list[Flag]:
    db.session.expire_all()
    return list(db.session.scalars(select(Flag).where(Flag.kind == kind)))


def test_rest_approve_return_opens_access(rest, client, login_as, member, db):
    token, approve = start(rest, client, login_as, member)
    assert client.get("/premium").status_code == 403  # created, not approved: nothing
    # PayPal charges a moment later than our clock reads (found by the demo walk: a
    # window ending at our whole second missed the first payment).
    rest.paypal.control("clock/advance", seconds=0.6)
    back = approve_at_paypal(rest, approve)
    assert back.startswith(f"{rest.url}/checkout/rest/return?cm={token}&subscription_id=I-")

    page = client.get(local(back, rest.url))
    assert page.status_code == 200 and b"Waiting for PayPal" in page.data
    # The return was checked with PayPal and PayPal's answer applied at once.
    sub = sub_of(db, member)
    assert sub is not None and sub.state == "active" and sub.paypal_id.startswith("I-")
    assert client.get("/premium").status_code == 200
    assert client.get(f"/checkout/{token}/status").json["access"] is True
    assert {n.channel for n in rest.notes()} == {"api"}

    # The webhooks (activation, payment) arrive afterwards: the same payment counts once.
    rest.settle()
    hooks = [n for n in rest.notes() if n.channel == "webhook"]
    assert hooks and all(n.verification == "VERIFIED" for n in hooks), [
        (n.txn_type, n.verification, n.outcome) for n in hooks
    ]
    assert all(n.status == "processed" for n in hooks), [(n.outcome, n.error) for n in hooks]
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    first_until = sub_of(db, member).access_until

    # A renewal, by webhook only, pushes access a month further.
    rest.advance(days=31)
    sub = sub_of(db, member)
    assert sub.access_until > first_until
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 2
    assert not flags(db, "return") and not flags(db, "signature")


def test_double_click_creates_one_subscription_at_paypal(rest, client, login_as, member, sim):
    login_as(member)
    first = client.post("/checkout/subscribe/premium-monthly").headers["Location"]
    second = client.post("/checkout/subscribe/premium-monthly").headers["Location"]
    assert first == second  # PayPal-Request-Id: the same subscription, not a second one
    assert len(sim.world.subscriptions) == 1


def forged(rest, client, back_url: str, subscription_id: str) -> TestResponse:
    """The return URL with another subscription id put in by the browser."""
    url = re.sub(r"subscription_id=[^&]+", f"subscription_id={subscription_id}", back_url)
    return client.get(local(url, rest.url))


@pytest.mark.parametrize("case", ["foreign", "other-plan", "pending", "cancelled", "unknown"])
def test_forged_returns_give_nothing(
    rest, client, login_as, member, make_user, make_plan, db, sim, case
):
    """A subscription id in the browser is a hint: each forgery is refused and flagged."""
    make_plan("premium-yearly", role="premium", price="90.00", paypal_plan_id="P-YEARLY")
    create_plan_from(sim, {"id": "P-YEARLY", "name": "Yearly", "price": "90.00"})
    token, approve = start(rest, client, login_as, member)
    back = f"{rest.url}/checkout/rest/return?cm={token}&subscription_id=I-PLACEHOLDER"
    if case == "foreign":  # someone else's genuine, active subscription
        other = rest.paypal.control(
            "rest/subscriptions", plan_id="P-MONTHLY", custom_id="someone-elses-token"
        )["id"]
    elif case == "other-plan":  # our token, but a cheaper/other plan
        other = rest.paypal.control("rest/subscriptions", plan_id="P-YEARLY", custom_id=token)["id"]
    elif case == "pending":  # created with our token, never approved
        other = rest.paypal.control(
            "rest/subscriptions", plan_id="P-MONTHLY", custom_id=token, approve=False
        )["id"]
    elif case == "cancelled":
        other = rest.paypal.control("rest/subscriptions", plan_id="P-MONTHLY", custom_id=token)[
            "id"
        ]
        rest.paypal.control(f"subscriptions/{other}/cancel")
    else:
        other = "I-DOESNOTEXIST1"
    page = forged(rest, client, back, other)
    assert page.status_code == 409, page.data
    assert b"PayPal does not confirm this subscription" in page.data
    assert client.get("/premium").status_code == 403
    assert sub_of(db, member) is None
    found = flags(db, "return")
    assert len(found) == 1 and other in found[0].message, [f.message for f in found]


def test_replayed_id_is_claimed_once(rest, client, login_as, member, make_user, db, app):
    """Member A's genuine id, replayed by member B on B's own checkout, gives B nothing."""
    token, approve = start(rest, client, login_as, member)
    back = approve_at_paypal(rest, approve)
    assert client.get(local(back, rest.url)).status_code == 200
    a_id = parse_qs(urlsplit(back).query)["subscription_id"][0]

    intruder = make_user("intruder@example.com")
    other = app.test_client()
    b_token, _ = start(rest, other, lambda u: other.get(f"/_test/login/{u.id}"), intruder)
    replay = other.get(f"/checkout/rest/return?cm={b_token}&subscription_id={a_id}")
    assert replay.status_code == 409
    assert other.get("/premium").status_code == 403
    assert sub_of(db, intruder) is None and sub_of(db, member).paypal_id == a_id
    assert len(flags(db, "return")) == 1
    # The JS SDK's onApprove path is checked the same way.
    js = other.post(f"/checkout/rest/{b_token}/approved", json={"subscription_id": a_id})
    assert js.status_code == 409 and "does not confirm" in js.json["error"]


def test_js_sdk_on_approve(rest, client, login_as, member, db):
    """onApprove posts the id; the server checks it with PayPal before linking."""
    token, _ = start(rest, client, login_as, member)
    checkout = db.session.scalar(select(Checkout).where(Checkout.token == token))
    # The JS SDK flow: the buyer approves in PayPal's popup (no redirect back to us).
    sub_id = checkout.paypal_subscription_id
    rest.paypal.http.post(
        rest.paypal.url("/sim/checkout/rest"),
        data={
            "ba_token": rest.sim_app.extensions["paypal_sim"]
            .world.subscriptions[sub_id]
            .approval_token,
            "decision": "approve",
        },
        allow_redirects=False,
        timeout=5,
    )
    answer = client.post(f"/checkout/rest/{token}/approved", json={"subscription_id": sub_id})
    assert answer.status_code == 200, answer.data
    assert client.get(answer.json["next"]).status_code == 200
    assert client.get("/premium").status_code == 200


def test_lost_webhooks_and_no_return_the_job_restores_access(
    rest, client, login_as, member, db, clock
):
    """The member approves and closes the tab; every webhook is lost. The job asks PayPal."""
    rest.paypal.control("faults", kind="webhook_drop", count=20)
    token, approve = start(rest, client, login_as, member)
    approve_at_paypal(rest, approve)  # never followed back to us
    rest.settle()
    assert sub_of(db, member) is None and client.get("/premium").status_code == 403

    summary = ask_paypal(clock.now())
    assert "1 subscription" in summary, summary
    rest.settle()
    sub = sub_of(db, member)
    assert sub is not None and sub.access_until is not None
    assert client.get("/premium").status_code == 200

    # A renewal whose webhook is lost as well: once overdue, the job asks again.
    rest.advance(days=31)
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    clock.advance(hours=7)
    assert "1 subscription" in ask_paypal(clock.now())
    rest.settle()
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 2
    assert client.get("/premium").status_code == 200
    # Asking again learns nothing new and stores nothing.
    before = len(rest.notes())
    ask_paypal(clock.now())
    assert len(rest.notes()) == before


def test_same_payment_by_ipn_and_webhook_counts_once(
    rest, client, login_as, member, db, app, verified
):
    """PayPal reports a REST payment by webhook and by IPN (recurring_payment): one payment."""
    rest.paypal.control("account", rest_ipn=True, notify_url=f"{rest.url}/paypal/ipn")
    token, approve = start(rest, client, login_as, member)
    approve_at_paypal(rest, approve)
    rest.settle()
    channels = {n.channel for n in rest.notes() if n.txn_id}
    assert channels == {"ipn", "webhook"}, [(n.channel, n.txn_type) for n in rest.notes()]
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    sub = sub_of(db, member)
    assert sub.access_until is not None and client.get("/premium").status_code == 200


@pytest.mark.parametrize(
    "fault", ["webhook_bad_signature", "webhook_wrong_webhook_id", "webhook_tampered"]
)
def test_bad_webhooks_are_stored_rejected_and_flagged(rest, client, login_as, member, db, fault):
    rest.paypal.control("faults", kind=fault, count=1)
    token, approve = start(rest, client, login_as, member)  # CREATED event gets the fault
    rest.settle()
    bad = [n for n in rest.notes() if n.channel == "webhook" and n.status == "invalid"]
    assert len(bad) == 1, [(n.txn_type, n.status, n.verification) for n in rest.notes()]
    assert bad[0].body and bad[0].headers.get("Paypal-Transmission-Sig")
    # Flagged when it names something of ours (here our checkout token); the tampered
    # copy's custom_id names nothing of ours, so it is junk: kept, counted, not flagged
    # (a flood of forgeries must not fill the flags page).
    assert len(flags(db, "signature")) == (0 if fault == "webhook_tampered" else 1)


def test_webhook_with_a_foreign_cert_url_makes_no_request(
    rest, client, login_as, member, db, app, listener
):
    """A genuine event re-sent by an attacker with their own certificate URL: rejected,
    flagged, and their server never hears from us."""
    evil = Listener()
    with serve(evil.app) as evil_url:
        evil.app.add_url_rule("/cert.pem", "cert", lambda: "x", methods=["GET"])
        token, approve = start(rest, client, login_as, member)
        approve_at_paypal(rest, approve)
        # Capture a genuine delivery (the stand-in also sends to the test listener).
        rest.paypal.deliver()
        genuine = next(r for r in listener.received if r.path == "/webhook")
        headers = {k: v for k, v in genuine.headers.items() if k.lower().startswith("paypal")}
        headers["PAYPAL-CERT-URL"] = f"{evil_url}/cert.pem"
        headers["Content-Type"] = "application/json"
        answer = requests.post(
            f"{rest.url}/paypal/webhook", data=genuine.body, headers=headers, timeout=5
        )
        assert answer.status_code == 200  # stored first, judged later
        rest.settle()
        assert evil.received == []
    note = db.session.scalar(
        select(Notification).where(Notification.status == "invalid").order_by(Notification.id)
    )
    assert note is not None and "is not a PayPal certificate host" in note.verification, (
        note.verification
    )
    assert flags(db, "signature")


def test_webhook_repeats_and_a_different_body_under_a_known_id(
    rest, client, login_as, member, db, sim
):
    """The same event twice has one effect; a different body under its id is flagged."""
    from paypal_sim.webhooks import headers_for

    token, approve = start(rest, client, login_as, member)
    back = approve_at_paypal(rest, approve)
    client.get(local(back, rest.url))
    rest.settle()
    sale = next(n for n in rest.notes() if n.txn_type == "PAYMENT.SALE.COMPLETED")

    def send(body: bytes) -> None:
        headers = headers_for(sim.signer, sim.base_url, WEBHOOK_ID, body, rest.sim_clock.now())
        assert requests.post(f"{rest.url}/paypal/webhook", data=body, headers=headers, timeout=5).ok

    send(bytes(sale.body))  # PayPal re-sends it (a lost 200)
    send(bytes(sale.body).replace(b'"9.00"', b'"1.00"'))  # same id, other content
    rest.settle()
    notes = [n for n in rest.notes() if n.event_id == sale.event_id]
    assert len(notes) == 3
    assert "repeat of message" in notes[1].outcome and notes[1].status == "processed"
    assert notes[2].status == "flagged" and flags(db, "repeat")
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1


def test_webhook_verified_by_paypals_api(rest, client, login_as, member, db, app):
    app.config["PAYPAL_WEBHOOK_VERIFY"] = "api"
    token, approve = start(rest, client, login_as, member)
    approve_at_paypal(rest, approve)
    rest.settle()
    hooks = [n for n in rest.notes() if n.channel == "webhook"]
    assert hooks and all(n.verification == "VERIFIED" for n in hooks)
    assert client.get("/premium").status_code == 200


def test_unreachable_paypal_on_return_waits_and_the_job_catches_up(
    rest, client, login_as, member, db, app, clock
):
    """PayPal's API down at the return: a waiting page, no error; access follows later."""
    token, approve = start(rest, client, login_as, member)
    back = approve_at_paypal(rest, approve)
    api = app.extensions["paypal_api"]
    real_base, api.base_url = api.base_url, "http://127.0.0.1:9"
    api.retries = 0
    page = client.get(local(back, rest.url))
    assert page.status_code == 200 and b"keep asking" in page.data
    api.base_url = real_base
    rest.settle()  # the webhooks arrive meanwhile
    assert client.get("/premium").status_code == 200


def subscribe_and_return(rest, client, login_as, user, plan="premium-monthly", switch=False):
    login_as(user)
    page = client.post(f"/checkout/subscribe/{plan}", data={"switch": "1"} if switch else {})
    assert page.status_code == 303, page.data
    back = approve_at_paypal(rest, page.headers["Location"])
    assert client.get(local(back, rest.url)).status_code == 200
    return parse_qs(urlsplit(back).query)["subscription_id"][0]


def test_member_cancels_a_rest_subscription_and_keeps_paid_time(
    rest, client, login_as, member, db, sim
):
    paypal_id = subscribe_and_return(rest, client, login_as, member)
    sub = sub_of(db, member)
    paid_through = sub.paid_through
    account = client.get("/account").data.decode()
    url = f"/account/subscriptions/{sub.id}/cancel"
    assert f'href="{url}">Cancel renewal…</a>' in account  # a link to a page, not a form
    confirm = client.get(url).data.decode()
    assert f"You keep access until <strong>{day_time_text(paid_through)}</strong>" in confirm
    assert 'name="confirm" value="yes"' in confirm
    # One click on an old page's form (no confirm field) changes nothing.
    assert client.post(url).status_code == 400
    assert sim.world.subscriptions[paypal_id].status == "ACTIVE"
    for _ in range(2):  # a double click cancels once; the second is told it is done
        r = client.post(url, data={"confirm": "yes"})
        assert r.status_code == 302, r.data
    assert sim.world.subscriptions[paypal_id].status == "CANCELLED"
    sub = sub_of(db, member)
    assert sub.state == "cancelled" and sub.access_until == paid_through
    assert client.get("/premium").status_code == 200
    assert "Cancel renewal…" not in client.get("/account").data.decode()
    rest.advance(days=32)  # no renewal is charged; access ends at the paid-through date
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    assert client.get("/premium").status_code == 403


def test_cancel_is_only_for_the_members_own_rest_subscriptions(
    rest, client, login_as, member, make_user, db, app
):
    subscribe_and_return(rest, client, login_as, member)
    sub = sub_of(db, member)
    intruder = make_user("intruder@example.com")
    other = login_as(intruder, browser=app.test_client())
    url = f"/account/subscriptions/{sub.id}/cancel"
    assert other.get(url).status_code == 404
    assert other.post(url, data={"confirm": "yes"}).status_code == 404
    assert sub_of(db, member).state == "active"


def test_switching_plans_cancels_the_replaced_rest_subscription(
    rest, client, login_as, member, make_plan, db, sim
):
    """Monthly -> yearly: once the yearly one is paid, the monthly one stops renewing at
    PayPal (no double charge) and keeps its paid month."""
    make_plan(
        "premium-yearly", role="premium", price="90.00", period_unit="Y", paypal_plan_id="P-YEARLY"
    )
    create_plan_from(
        sim, {"id": "P-YEARLY", "name": "Yearly", "price": "90.00", "interval_unit": "YEAR"}
    )
    monthly = subscribe_and_return(rest, client, login_as, member)
    yearly = subscribe_and_return(rest, client, login_as, member, "premium-yearly", switch=True)
    assert sim.world.subscriptions[monthly].status == "CANCELLED"
    assert sim.world.subscriptions[yearly].status == "ACTIVE"
    db.session.expire_all()
    subs = {s.paypal_id: s for s in db.session.scalars(select(Subscription))}
    assert subs[monthly].state == "cancelled" and subs[monthly].access_until is not None
    assert subs[yearly].state == "active"
    assert "You switched plans" not in client.get("/account").data.decode()


def test_admin_reads_webhooks_and_api_answers(rest, client, login_as, member, admin, db, app):
    subscribe_and_return(rest, client, login_as, member)
    rest.settle()
    requests.post(f"{rest.url}/paypal/webhook", data=b"\xff not json", timeout=5)
    rest.settle()
    browser = login_as(admin, browser=app.test_client())
    for note in rest.notes():
        page = browser.get(f"/admin/messages/{note.id}")
        assert page.status_code == 200, (note.id, note.channel)
        text = page.data.decode()
        if note.channel == "webhook" and note.event_id:
            assert note.txn_type in text and "&#34;event_type&#34;" in text
        if note.channel == "api":
            assert "&#34;kind&#34;" in text
    forged = rest.notes()[-1]
    assert forged.status == "invalid"  # no signature headers: rejected, kept, shown raw
