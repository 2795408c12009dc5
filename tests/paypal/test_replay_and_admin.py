"""Replay from raw messages, the worker command, the endpoint's guarantees, and the admin
pages for messages, flags, timelines and unclaimed subscriptions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import request
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import OperationalError

from gateway.pipeline import intake
from gateway.pipeline import worker as inbox
from models import Flag, Notification, Payment, Subscription, SubscriptionFact, User
from tests.inbox import process_due
from tests.paypal import ipn_builders as ipn

T = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)


def post(client, body):
    r = client.post("/paypal/ipn", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200 and r.data == b""
    return r


def story(client):
    for b in (
        ipn.signup("I-REPLAY", T),
        ipn.payment("I-REPLAY", "TXNREPLAY0000001", T),
        ipn.payment("I-REPLAY", "TXNREPLAY0000002", T + timedelta(days=31)),
    ):
        post(client, b)
    process_due()


def test_endpoint_stores_exact_bytes_and_headers(ready, client, db):
    """Is the body stored byte for byte with headers, before any parsing?"""
    raw = ipn.payment("I-RAW", "TXNRAW0000000001", T) + b"&memo=caf%E9+%26+more"
    client.post(
        "/paypal/ipn",
        data=raw,
        content_type="application/x-www-form-urlencoded",
        headers={"User-Agent": "PayPal IPN ( https://www.paypal.com/ipn )"},
    )
    note = db.session.scalar(select(Notification))
    assert note.body == raw and note.status == "pending"
    assert note.headers["User-Agent"].startswith("PayPal IPN")
    assert note.remote_addr == "127.0.0.1"


@pytest.mark.parametrize(
    "path,body,content_type",
    [
        ("/paypal/ipn", ipn.signup("I-CSRF", T), "application/x-www-form-urlencoded"),
        ("/paypal/webhook", b'{"id": "WH-CSRF-1", "resource": {}}', "application/json"),
    ],
    ids=["ipn", "webhook"],
)
def test_endpoint_is_csrf_exempt(ready, client, db, path, body, content_type):
    """With CSRF on everywhere, does PayPal's POST still get through Flask's view?"""
    ready.config["WTF_CSRF_ENABLED"] = True
    reached: list[str] = []
    ready.before_request(lambda: reached.append(request.path))  # runs after the CSRF check
    assert client.post("/auth/login", data={"email": "a@b.c"}).status_code == 400  # CSRF is on
    # A query string: FastIntake (which never looks at CSRF) leaves the request to Flask.
    r = client.post(f"{path}?via=flask", data=body, content_type=content_type)
    assert r.status_code == 200 and reached == [path]
    assert db.session.scalar(select(Notification.body)) == body


def test_endpoint_answers_503_when_the_database_fails(ready, client, db, monkeypatch):
    """If the message cannot be stored, does PayPal get a 5xx (so it re-sends)?"""

    def broken(engine, row):
        raise OperationalError("INSERT", {}, Exception("database is down"))

    monkeypatch.setattr(intake, "_autocommit", broken)
    r = client.post(
        "/paypal/ipn",
        data=ipn.signup("I-DOWN", T),
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 503
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0


def test_endpoint_replaces_a_dead_connection_once(ready, client, db, monkeypatch):
    """A pooled connection found dead (the database restarted): is the message stored on a
    fresh one, and 200 answered? And a second failure in a row: 503, not a loop?"""
    real, calls = intake._autocommit, []

    def dead_first(engine, row):
        calls.append(row)
        if len(calls) == 1:
            raise OperationalError(
                "INSERT", {}, Exception("server closed the connection"), connection_invalidated=True
            )
        return real(engine, row)

    monkeypatch.setattr(intake, "_autocommit", dead_first)
    body = ipn.signup("I-DEAD", T)
    r = client.post("/paypal/ipn", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200 and len(calls) == 2
    stored = db.session.scalars(select(Notification.body)).all()
    assert [bytes(b) for b in stored] == [body]

    def always_dead(engine, row):
        calls.append(row)
        raise OperationalError("INSERT", {}, Exception("gone"), connection_invalidated=True)

    monkeypatch.setattr(intake, "_autocommit", always_dead)
    calls.clear()
    r = client.post("/paypal/ipn", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 503 and len(calls) == 2


def test_endpoint_refuses_huge_bodies(ready, client):
    """Is a body far larger than any IPN refused with 413?"""
    r = client.post(
        "/paypal/ipn", data=b"x=" + b"a" * 70000, content_type="application/x-www-form-urlencoded"
    )
    assert r.status_code == 413


def test_the_endpoint_never_asks_paypal(ready, verified, client, db):
    """Does the web request only store (no postback, nothing applied) and answer at once?"""
    post(client, ipn.signup("I-STORE-ONLY", T))
    db.session.expire_all()
    note = db.session.scalar(select(Notification))
    assert verified.calls == [] and note.status == "pending" and note.verification is None
    assert process_due() == 1 and len(verified.calls) == 1


def test_expired_lease_is_claimed_again(ready, client, db, clock):
    """A worker that died mid-message: after its lease runs out, another takes it."""
    post(client, ipn.signup("I-LEASE", T))
    assert inbox.claim(clock.now()) != []  # claimed, then the worker "crashes"
    assert process_due() == 0  # still leased
    clock.advance(seconds=ready.config["IPN_LEASE_SECONDS"] + 1)
    assert process_due() == 1
    assert db.session.scalar(select(Notification)).status == "processed"


def test_refund_before_payment_waits_then_applies(ready, client, db, clock):
    """A refund that arrives days before its payment waits, unflagged, then applies."""
    post(client, ipn.money_back("TXNLATE000000001", "RFLATE0000000001", T, "Refunded", "-9.00"))
    process_due()
    note = db.session.scalar(select(Notification))
    assert note.status == "deferred" and note.waiting_for == "TXNLATE000000001"
    for _ in range(20):  # many re-checks over days: no attempt budget runs out
        clock.advance(hours=7)
        process_due()
    db.session.expire_all()
    note = db.session.scalar(select(Notification))
    assert note.status == "deferred" and note.attempts == 0
    assert db.session.scalar(select(Flag)) is None
    post(client, ipn.payment("I-LATE", "TXNLATE000000001", T))
    while process_due():
        pass
    db.session.expire_all()
    assert [n.status for n in db.session.scalars(select(Notification))] == ["processed"] * 2
    assert db.session.scalar(select(Payment)).status == "Refunded"
    assert db.session.scalar(select(Subscription)).access_until is None


def test_old_subscription_messages_never_touch_a_new_one(ready, client, db, make_user):
    """A late subscr_eot of an old subscription leaves the member's new one alone."""
    for sub in ("I-OLD", "I-NEW"):
        post(client, ipn.signup(sub, T))
        post(client, ipn.payment(sub, f"TXN{sub[2:]}000000000", T + timedelta(days=1)))
    post(client, ipn.event("I-OLD", "subscr_eot", T))
    while process_due():
        pass
    subs = {s.paypal_id: s for s in db.session.scalars(select(Subscription))}
    assert subs["I-OLD"].state == "ended" and subs["I-NEW"].state == "active"


def test_rebuild_reports_and_repairs(ready, client, db, runner):
    """Does `flask rebuild` find tampered state and lost facts, and --apply repair them?"""
    story(client)
    assert runner.invoke(args=["rebuild"]).exit_code == 0
    sub = db.session.scalar(select(Subscription))
    good = sub.access_until
    db.session.execute(update(Subscription).values(access_until=good + timedelta(days=99)))
    db.session.execute(
        delete(SubscriptionFact).where(SubscriptionFact.txn_id == "TXNREPLAY0000002")
    )
    db.session.commit()
    result = runner.invoke(args=["rebuild"])
    assert result.exit_code == 1
    assert "access_until is" in result.output and "never stored" in result.output
    fixed = runner.invoke(args=["rebuild", "--apply"])
    assert "(applied)" in fixed.output
    db.session.expire_all()
    assert db.session.scalar(select(Subscription)).access_until == good
    assert runner.invoke(args=["rebuild"]).exit_code == 0


def test_inbox_process_command(ready, client, db, runner):
    """Does `flask inbox process` drain what is due?"""
    post(client, ipn.signup("I-CLI", T))
    result = runner.invoke(args=["inbox", "process"])
    assert result.exit_code == 0 and "processed 1 message(s)" in result.output


def test_admin_message_log_detail_and_reprocess(ready, client, db, login_as, admin):
    """Can an admin filter messages, read the raw body, and re-process a flagged one?"""
    post(
        client,
        ipn.signup("I-GOLD", T)
        .replace(b"receiver_email=merchant%40example.com", b"receiver_email=old%40example.com")
        .replace(b"business=merchant%40example.com", b"business=old%40example.com"),
    )
    story(client)
    login_as(admin)
    page = client.get("/admin/messages", query_string={"status": "flagged"})
    assert page.status_code == 200 and b"I-GOLD" in page.data and b"I-REPLAY" not in page.data
    assert (
        b"subscr_payment"
        in client.get("/admin/messages", query_string={"type": "subscr_payment"}).data
    )
    assert client.get("/admin/messages", query_string={"status": "bogus"}).status_code == 400
    note = db.session.scalar(select(Notification).where(Notification.subscr_id == "I-GOLD"))
    detail = client.get(f"/admin/messages/{note.id}")
    assert b"receiver is not us" in detail.data and b"old%40example.com" in detail.data
    assert client.get(f"/admin/messages/{note.id}/raw").data == note.body
    ready.config["PAYPAL_RECEIVER_EMAILS"] = ["old@example.com"]  # our former address
    assert (
        client.post(f"/admin/messages/{note.id}/reprocess", data={"reason": ""}).status_code == 400
    )
    r = client.post(f"/admin/messages/{note.id}/reprocess", data={"reason": "our old e-mail"})
    assert r.status_code == 303
    process_due()
    db.session.expire_all()
    assert db.session.get(Notification, note.id).status == "processed"


def test_admin_flags_queue_and_assigning_a_member(ready, client, db, login_as, admin, make_user):
    """Unclaimed subscription: flagged; an admin assigns the member, which resolves that flag;
    another flag is resolved by hand with a note."""
    member = make_user("late@example.com")
    post(client, ipn.signup("I-ORPHAN", T))
    post(client, ipn.payment("I-ORPHAN", "TXNORPHAN0000001", T))
    process_due()
    login_as(admin)
    flags_page = client.get("/admin/flags")
    assert b"could not be tied to a member" in flags_page.data
    sub = db.session.scalar(select(Subscription))
    detail = client.get(f"/admin/subscriptions/{sub.id}")
    assert b"Assign member" in detail.data and b"Timeline" in detail.data
    assert b"Payment TXNORPHAN0000001 paid" in detail.data
    r = client.post(
        f"/admin/subscriptions/{sub.id}/assign",
        data={"assign-email": "nobody@example.com", "assign-reason": "support ticket"},
    )
    # The error on the form itself, with what was typed kept (not a bare "Bad request").
    assert r.status_code == 400 and b"No member has the e-mail nobody@example.com" in r.data
    assert b'value="nobody@example.com"' in r.data and b"support ticket</textarea>" in r.data
    assert b"Timeline" in r.data  # the subscription's own page
    r = client.post(
        f"/admin/subscriptions/{sub.id}/assign",
        data={"assign-email": "LATE@example.com", "assign-reason": "support ticket 7"},
    )
    assert r.status_code == 303
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).user_id == member.id
    assert db.session.get(User, member.id).access_version > 1
    unclaimed = db.session.scalar(select(Flag).where(Flag.kind == "unclaimed"))
    assert unclaimed.resolved_at is not None and "support ticket 7" in unclaimed.resolution

    post(
        client,
        ipn.payment("I-ORPHAN", "TXNORPHAN0000002", T).replace(b"mc_gross=9.00", b"mc_gross=0.01"),
    )  # a wrong amount: flagged for a human
    process_due()
    flag = db.session.scalar(select(Flag).where(Flag.kind == "amount"))
    assert client.post(f"/admin/flags/{flag.id}/resolve", data={"reason": ""}).status_code == 400
    assert (
        client.post(
            f"/admin/flags/{flag.id}/resolve", data={"reason": "attached to late@"}
        ).status_code
        == 303
    )
    assert (
        client.post(f"/admin/flags/{flag.id}/resolve", data={"reason": "again"}).status_code == 409
    )
    assert b"attached to late@" in client.get("/admin/flags?state=resolved").data
    assert b"No flags here" in client.get("/admin/flags").data
    assert client.get("/admin/flags?state=weird").status_code == 400


def test_admin_payments_list(ready, client, db, login_as, admin, make_user):
    """Does the payments table list, filter and search every payment?"""
    story(client)
    post(client, ipn.money_back("TXNREPLAY0000001", "RFREPLAY00000001", T, "Refunded", "-9.00"))
    process_due()
    login_as(admin)
    page = client.get("/admin/payments").data
    assert b"TXNREPLAY0000001" in page and b"TXNREPLAY0000002" in page
    refunded = client.get("/admin/payments", query_string={"status": "Refunded"}).data
    assert b"TXNREPLAY0000001" in refunded and b"TXNREPLAY0000002" not in refunded
    by_sub = client.get("/admin/payments", query_string={"q": "I-REPLAY"}).data
    assert by_sub.count(b"TXNREPLAY000000") == 2
    assert client.get("/admin/payments", query_string={"page": "-1"}).status_code == 400


def test_admin_pages_for_messages_are_admin_only(ready, client, login_as, make_user):
    """Are the message, payment and flag pages closed to members?"""
    login_as(make_user())
    for url in (
        "/admin/messages",
        "/admin/messages/1",
        "/admin/messages/1/raw",
        "/admin/payments",
        "/admin/flags",
    ):
        assert client.get(url).status_code == 403
    for url in (
        "/admin/messages/1/reprocess",
        "/admin/flags/1/resolve",
        "/admin/subscriptions/1/assign",
    ):
        assert client.post(url, data={"reason": "xxxx"}).status_code == 403


def test_credentials_sent_with_a_message_are_not_stored(ready, client, db):
    """Cookie and Authorization headers never reach the stored record of a message."""
    r = client.post(
        "/paypal/ipn",
        data=ipn.signup("I-HEADERS", T),
        content_type="application/x-www-form-urlencoded",
        headers={
            "Cookie": "session=stolen",
            "Authorization": "Basic c2VjcmV0",
            "Proxy-Authorization": "Basic eA==",
            "User-Agent": "PayPal IPN ( https://www.paypal.com/ipn )",
        },
    )
    assert r.status_code == 200
    stored = {k.lower(): v for k, v in db.session.scalar(select(Notification)).headers.items()}
    assert "cookie" not in stored and "authorization" not in stored
    assert "proxy-authorization" not in stored and stored["user-agent"].startswith("PayPal IPN")


def test_intake_is_one_statement_in_autocommit(ready, client, db, monkeypatch):
    """Is a received message stored by one INSERT on an autocommit connection (no BEGIN,
    no COMMIT, no pre-ping: one round trip), and committed when 200 is answered?"""
    from gateway.database import autocommit_engine

    engine = autocommit_engine()
    sent, commits, modes = [], [], []

    class Cursor:
        def __init__(self, cursor):
            self.cursor = cursor

        def execute(self, sql, *args, **kwargs):
            sent.append(sql)
            return self.cursor.execute(sql, *args, **kwargs)

        def __getattr__(self, name):
            return getattr(self.cursor, name)

    class Connection:
        """The pooled connection intake gets, with what is sent through it written down."""

        def __init__(self, conn):
            self.conn = conn
            raw = conn.driver_connection  # psycopg's autocommit, or sqlite3's (None)
            modes.append(raw.autocommit if hasattr(raw, "autocommit") else raw.isolation_level)

        def cursor(self):
            return Cursor(self.conn.cursor())

        def commit(self):
            commits.append(1)

        def __getattr__(self, name):
            return getattr(self.conn, name)

    real = engine.raw_connection
    monkeypatch.setattr(engine, "raw_connection", lambda: Connection(real()))
    body = ipn.signup("I-ONE", T)
    r = client.post("/paypal/ipn", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200
    assert len(sent) == 1 and sent[0].startswith("INSERT INTO notifications")
    assert commits == [] and modes in ([True], [None])
    db.session.rollback()  # a new transaction: sees only what was committed
    assert [bytes(b) for b in db.session.scalars(select(Notification.body))] == [body]


def test_intake_engine_keeps_the_operators_engine_options(app, db):
    """Does the intake engine connect with the operator's options (TLS settings, say),
    changing only what makes it autocommit?"""
    from gateway.database import autocommit_engine, dispose_engines

    dispose_engines(app)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True, "echo_pool": "debug"}
    engine = autocommit_engine()
    assert engine.pool.echo == "debug"  # the operator's option
    assert engine.pool._pre_ping is False  # ours (autocommit: the test above)
