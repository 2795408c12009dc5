"""No message left hanging: a refund whose payment never comes is flagged after its time
and matched or dismissed by an admin; a disowned (INVALID) message naming something of
ours is flagged, re-verified or applied after checking; their rise shows on the status
page and in the metrics; a webhook's verification is called what it is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from gateway.billing.rules.statuses import Channel, NotificationStatus
from gateway.jobs import tasks
from gateway.reconciliation.rebuild import rebuild
from models import AuditEntry, Flag, Notification, Payment, Subscription
from tests.inbox import process_due
from tests.paypal import ipn_builders as ipn
from tests.sql import statements_sent

T = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)


def post(client, body: bytes) -> None:
    r = client.post("/paypal/ipn", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200


def drain() -> None:
    while process_due():
        pass


def note_of(db, txn: str) -> Notification:
    db.session.expire_all()
    return db.session.scalar(select(Notification).where(Notification.txn_id == txn))


def open_flags(db, kind: str) -> list[Flag]:
    db.session.expire_all()
    return list(
        db.session.scalars(select(Flag).where(Flag.kind == kind, Flag.resolved_at.is_(None)))
    )


@pytest.fixture
def paid(ready, client, db, clock):
    """Subscription I-PAID with its payment TXNPAID000000001 applied."""
    clock.set(T)
    post(client, ipn.signup("I-PAID", T))
    post(client, ipn.payment("I-PAID", "TXNPAID000000001", T))
    drain()
    sub = db.session.scalar(select(Subscription))
    assert sub.access_until is not None
    return sub


def waiting_refund(client, db, clock, parent="TXNGONE000000001", txn="RFGONE0000000001"):
    post(client, ipn.money_back(parent, txn, clock.now(), "Refunded", "-9.00"))
    drain()
    assert note_of(db, txn).status == NotificationStatus.DEFERRED


# --- a refund whose payment never comes ----------------------------------------------------


def test_a_waiting_refund_is_flagged_once_after_its_time(ready, client, db, clock):
    """Is a refund waiting for a payment flagged only after DEFERRED_FLAG_AFTER_HOURS (24),
    once, with its amount, the payment it names and its PayPal transaction?"""
    clock.set(T)
    waiting_refund(client, db, clock)
    clock.advance(hours=23)
    tasks.flag_waiting(clock.now())
    assert open_flags(db, "deferred") == []
    clock.advance(hours=2)
    assert tasks.flag_waiting(clock.now()).startswith("1 refund(s) waiting too long flagged")
    tasks.flag_waiting(clock.advance(hours=1))
    [flag] = open_flags(db, "deferred")
    note = note_of(db, "RFGONE0000000001")
    assert flag.notification_id == note.id
    for known in ("Refunded -9.00 USD", "TXNGONE000000001", "RFGONE0000000001"):
        assert known in flag.message
    assert note.status == NotificationStatus.DEFERRED  # it still waits: nothing decided


@pytest.mark.parametrize("app", [{"DEFERRED_FLAG_AFTER_HOURS": 2}], indirect=True)
def test_the_waiting_time_is_a_setting(ready, client, db, clock):
    """Does GATEWAY_DEFERRED_FLAG_AFTER_HOURS set when a waiting refund is flagged?"""
    clock.set(T)
    waiting_refund(client, db, clock)
    tasks.flag_waiting(clock.advance(hours=1, minutes=59))
    assert open_flags(db, "deferred") == []
    tasks.flag_waiting(clock.advance(minutes=2))
    assert len(open_flags(db, "deferred")) == 1


def test_an_admin_matches_a_waiting_refund_to_our_payment_and_it_applies(
    paid, client, db, clock, admin, login_as
):
    """Does matching apply the refund to our payment (access removed, audited, the flag
    resolved), refuse a payment we do not have, and does replay agree with the result?"""
    waiting_refund(client, db, clock)
    tasks.flag_waiting(clock.advance(hours=25))
    [flag] = open_flags(db, "deferred")
    login_as(admin)
    page = client.get("/admin/flags").get_data(as_text=True)
    assert "Match and apply" in page and "Dismiss" in page
    unknown = client.post(
        f"/admin/flags/{flag.id}/match", data={"txn_id": "NOSUCHTXN", "reason": "looks ours"}
    )
    assert unknown.status_code == 303
    assert note_of(db, "RFGONE0000000001").status == NotificationStatus.DEFERRED
    r = client.post(
        f"/admin/flags/{flag.id}/match",
        data={"txn_id": "TXNPAID000000001", "reason": "same buyer, same amount, same day"},
    )
    assert r.status_code == 303
    drain()
    note = note_of(db, "RFGONE0000000001")
    assert note.status == NotificationStatus.PROCESSED, note.error
    assert "matched by an admin to our payment TXNPAID000000001" in (note.outcome or "")
    assert db.session.scalar(select(Payment)).status == "Refunded"
    assert db.session.scalar(select(Subscription)).access_until is None
    assert open_flags(db, "deferred") == []
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "match-refund"))
    assert entry is not None and entry.subject_id == note.id
    assert rebuild(clock.now()).differences == []


def test_dismissing_a_waiting_refund_stops_its_wait(ready, client, db, clock, admin, login_as):
    """Does dismissing resolve the flag and end the wait (no effect, even if the payment
    turns up later: an admin re-processes it from its page then)?"""
    clock.set(T)
    waiting_refund(client, db, clock)
    tasks.flag_waiting(clock.advance(hours=25))
    [flag] = open_flags(db, "deferred")
    login_as(admin)
    r = client.post(f"/admin/flags/{flag.id}/dismiss", data={"reason": "not our buyer"})
    assert r.status_code == 303
    note = note_of(db, "RFGONE0000000001")
    assert note.status == NotificationStatus.FLAGGED and "dismissed" in (note.outcome or "")
    assert open_flags(db, "deferred") == []
    post(client, ipn.payment("I-LATER", "TXNGONE000000001", clock.now()))
    drain()
    assert note_of(db, "RFGONE0000000001").status == NotificationStatus.FLAGGED


def test_a_flag_settles_itself_when_the_payment_comes_after_all(ready, client, db, clock):
    """If the payment arrives after the flag, is the refund applied and the flag closed?"""
    clock.set(T)
    waiting_refund(client, db, clock)
    tasks.flag_waiting(clock.advance(hours=25))
    post(client, ipn.payment("I-LATE", "TXNGONE000000001", T))
    drain()
    assert note_of(db, "RFGONE0000000001").status == NotificationStatus.PROCESSED
    assert "1 flag(s) settled" in tasks.flag_waiting(clock.advance(minutes=15))
    assert open_flags(db, "deferred") == []


# --- a message PayPal disowned ---------------------------------------------------------


def test_an_invalid_refund_of_our_payment_is_flagged_and_applied_after_checking(
    paid, verified, client, db, clock, admin, login_as
):
    """A genuine refund answered INVALID (a postback fault): is it flagged, naming our
    payment, and applied once an admin vouches for it (audited)?"""
    verified.answer = "INVALID"
    post(client, ipn.money_back("TXNPAID000000001", "RFPAID0000000001", T, "Refunded", "-9.00"))
    drain()
    note = note_of(db, "RFPAID0000000001")
    assert note.status == NotificationStatus.INVALID
    [flag] = open_flags(db, "invalid")
    assert "our payment TXNPAID000000001" in flag.message and flag.subscription_id == paid.id
    login_as(admin)
    assert "Apply: checked at PayPal" in client.get("/admin/flags").get_data(as_text=True)
    r = client.post(f"/admin/flags/{flag.id}/accept", data={"reason": "refund shown at PayPal"})
    assert r.status_code == 303
    calls = len(verified.calls)
    drain()
    assert len(verified.calls) == calls  # vouched for: not asked again
    note = note_of(db, "RFPAID0000000001")
    assert note.status == NotificationStatus.PROCESSED and note.verification == "VERIFIED"
    assert db.session.scalar(select(Payment)).status == "Refunded"
    assert open_flags(db, "invalid") == []
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "accept-disowned"))


def test_an_invalid_message_is_re_verified_on_request(
    paid, verified, client, db, clock, admin, login_as
):
    """Does re-verify ask PayPal again, and apply the message when it now says VERIFIED?"""
    verified.answer = "INVALID"
    post(client, ipn.money_back("TXNPAID000000001", "RFPAID0000000002", T, "Refunded", "-9.00"))
    drain()
    [flag] = open_flags(db, "invalid")
    verified.answer = "VERIFIED"
    login_as(admin)
    r = client.post(f"/admin/flags/{flag.id}/reverify", data={"reason": "PayPal was down"})
    assert r.status_code == 303
    calls = len(verified.calls)
    drain()
    assert len(verified.calls) == calls + 1
    assert note_of(db, "RFPAID0000000002").status == NotificationStatus.PROCESSED
    assert db.session.scalar(select(Payment)).status == "Refunded"


def test_invalid_junk_is_not_flagged_and_a_flood_is_one_flag(paid, verified, client, db):
    """Is an INVALID message naming nothing of ours left unflagged, and are many naming
    one subscription one open flag?"""
    verified.answer = "INVALID"
    post(client, ipn.money_back("TXNNOTOURS000001", "RFJUNK0000000001", T, "Refunded", "-9.00"))
    drain()
    assert note_of(db, "RFJUNK0000000001").status == NotificationStatus.INVALID
    assert open_flags(db, "invalid") == []
    for i in range(5):
        post(client, ipn.event("I-PAID", "subscr_cancel", T + timedelta(minutes=i)))
    drain()
    assert len(open_flags(db, "invalid")) == 1


@pytest.mark.parametrize("app", [{"STATUS_INVALID_PER_HOUR": 3}], indirect=True)
def test_a_rise_in_invalid_answers_shows_on_status_and_metrics(
    ready, verified, client, db, clock, admin, login_as
):
    """Do INVALID answers count on /admin/status (with a warning above the setting) and
    in /metrics, for the last hour and the day before?"""
    clock.set(T)
    verified.answer = "INVALID"
    post(client, ipn.signup("I-OLDJUNK", T))
    drain()
    clock.advance(hours=2)
    for i in range(5):
        post(client, ipn.signup(f"I-JUNK{i}", clock.now()))
    drain()
    login_as(admin)
    page = client.get("/admin/status").get_data(as_text=True)
    assert 'id="invalid-answers">5 / 1<' in page
    assert "PayPal disowned 5 message(s) (INVALID) in the last hour" in page
    client.application.config["METRICS_TOKEN"] = token = "t" * 32
    text = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).get_data(
        as_text=True
    )
    samples = {
        s.labels["window"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "tollgate_invalid_answers"
    }
    assert samples == {"last_hour": 5, "day_before": 1}
    clock.advance(hours=2)  # the rise is over: counted as the day before, no warning
    page = client.get("/admin/status").get_data(as_text=True)
    assert 'id="invalid-answers">0 / 6<' in page and "PayPal disowned" not in page


# --- a webhook's verification is no postback ---------------------------------------------


@pytest.mark.parametrize("app", [{"PAYPAL_WEBHOOK_ID": ""}], indirect=True)
def test_a_webhook_verification_retry_is_labelled_signature(app, db, clock):
    """Is a webhook whose signature could not be checked yet retried as "signature: ...",
    not as a postback?"""
    db.session.add(
        Notification(
            channel=Channel.WEBHOOK,
            received_at=clock.now(),
            next_attempt_at=clock.now(),
            body=b'{"id":"WH-1","event_type":"PAYMENT.SALE.COMPLETED"}',
            headers={
                "PAYPAL-TRANSMISSION-ID": "t-1",
                "PAYPAL-TRANSMISSION-TIME": clock.now().isoformat(),
                "PAYPAL-TRANSMISSION-SIG": "c2ln",
                "PAYPAL-CERT-URL": "http://127.0.0.1:5001/v1/notifications/certs/CERT-1",
                "PAYPAL-AUTH-ALGO": "SHA256withRSA",
            },
        )
    )
    db.session.commit()
    process_due()
    db.session.expire_all()
    note = db.session.scalar(select(Notification))
    assert note.status == NotificationStatus.RETRY
    assert note.error.startswith("signature: webhook id is not configured"), note.error
    assert db.session.scalar(select(func.count()).select_from(Flag)) == 0


def test_a_batch_of_disowned_messages_costs_the_same_few_lookups(paid, verified, client, db):
    """Are disowned messages looked up set-based: as many statements for 40 as for 4 (a
    flood of forgeries must not cost a query per message)?"""
    verified.answer = "INVALID"

    def statements_for(count: int, start: int) -> int:
        for i in range(start, start + count):
            post(client, ipn.money_back(f"TXNX{i:012d}", f"RFX{i:013d}", T, "Refunded", "-9.00"))
        with statements_sent(db.engine) as sent:
            assert process_due() == count
        return len([s for s in sent if s.lstrip().upper().startswith("SELECT")])

    assert statements_for(4, 0) == statements_for(40, 100)
    assert open_flags(db, "invalid") == []
