"""PayPal's endpoints answered before Flask (`fastpath.intake.FastIntake`): the same answers
and the same stored row as the Flask views, committed before the 200, 503 when the
database cannot take it, a dead pooled connection replaced; what it leaves to Flask."""

from __future__ import annotations

import io
import logging

import pytest
from flask import request
from sqlalchemy import Text, cast, delete, select, text

from gateway import create_app
from gateway.billing.rules.statuses import Channel
from gateway.database import autocommit_engine
from gateway.pipeline import intake
from models import Notification
from models import db as _db
from tests.conftest import CONFIG
from tests.paypal import ipn_builders as ipn

from .test_replay_and_admin import T

WEBHOOK = b'{"id": "WH-INTAKE-1", "event_type": "BILLING.SUBSCRIPTION.ACTIVATED", "resource": {}}'
FORM = "application/x-www-form-urlencoded"
#: Each endpoint with a message it takes and the event id stored for it.
MESSAGES = {
    "ipn": ("/paypal/ipn", ipn.signup("I-INTAKE", T), FORM, None),
    "webhook": ("/paypal/webhook", WEBHOOK, "application/json", "WH-INTAKE-1"),
}
SENT_HEADERS = {
    "User-Agent": "PayPal IPN ( https://www.paypal.com/ipn )",
    "X-Paypal-Transmission-Id": "abc-123",
    "Cookie": "session=stolen",
    "Authorization": "Basic c2VjcmV0",
    "Proxy-Authorization": "Basic eA==",
}
SECURITY = {
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
}
#: What is stored of a message, apart from when it came.
STORED = ("channel", "body", "headers", "remote_addr", "status", "attempts", "event_id")


def stored(db):
    db.session.rollback()  # a new transaction: sees only what was committed
    return db.session.scalars(select(Notification).order_by(Notification.id)).all()


@pytest.fixture
def through_flask(app):
    """The paths of the requests that reached Flask's request handling."""
    seen = []
    app.before_request(lambda: seen.append(request.path))
    return seen


@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_the_fast_path_stores_and_answers_as_the_flask_view(kind, client, db, clock, through_flask):
    """Does a POST answered before Flask store the same row and get the same answer as
    one Flask's view handles (a query string sends it there)?"""
    path, body, content_type, event_id = MESSAGES[kind]
    fast = client.post(path, data=body, content_type=content_type, headers=SENT_HEADERS)
    assert through_flask == []  # no request context, no hooks, no session, no CSRF
    first_at = clock.now()
    clock.advance(seconds=1)
    flask = client.post(
        f"{path}?via=flask", data=body, content_type=content_type, headers=SENT_HEADERS
    )
    assert through_flask == [path]

    assert fast.status_code == flask.status_code == 200 and fast.data == flask.data == b""
    # The same headers, the security headers among them (Flask-Login's after-request hook
    # adds Vary: Cookie, which says nothing about an answer that reads no cookie).
    assert set(fast.headers.keys()) >= SECURITY
    assert sorted(fast.headers.items()) == sorted(
        (k, v) for k, v in flask.headers.items() if k != "Vary"
    )

    first, second = stored(db)
    assert {c: getattr(first, c) for c in STORED} == {c: getattr(second, c) for c in STORED}
    assert bytes(first.body) == body and first.channel == kind and first.event_id == event_id
    assert first.status == "pending" and first.attempts == 0 and first.remote_addr == "127.0.0.1"
    assert first.received_at == first.next_attempt_at == first_at  # the app's clock
    assert second.received_at == second.next_attempt_at == clock.now()
    assert first.headers["X-Paypal-Transmission-Id"] == "abc-123"
    assert {k.lower() for k in first.headers} == {
        "host",
        "user-agent",
        "x-paypal-transmission-id",
        "content-type",
        "content-length",
    }


def test_headers_are_stored_as_the_json_column_stores_them(client, db, clock):
    """Is the headers' JSON text the fast path stores the text a JSON column write
    through SQLAlchemy (the session) stores for the same headers?"""
    headers = SENT_HEADERS | {"X-Note": 'caf\u00e9 "quoted"'}
    client.post("/paypal/ipn", data=b"a=1", content_type=FORM, headers=headers)
    (fast,) = stored(db)
    assert fast.headers["X-Note"] == 'caf\u00e9 "quoted"'
    intake.store(Channel.IPN, b"a=1", fast.headers, "127.0.0.1", clock.now())
    texts = db.session.scalars(
        select(cast(Notification.headers, Text)).order_by(Notification.id)
    ).all()
    assert len(texts) == 2 and texts[0] == texts[1]


def test_a_message_in_form_encoding_keeps_its_bytes_at_the_webhook(client, db, through_flask):
    """A webhook sent as a form (not what PayPal sends, but anyone may): are its exact
    bytes stored, by the fast path and by the view alike, and never parsed as a form?"""
    body = b"id=WH-FORM&x=%00%E9"
    for path in ("/paypal/webhook", "/paypal/webhook?via=flask"):
        assert client.post(path, data=body, content_type=FORM).status_code == 200
    assert through_flask == ["/paypal/webhook"]
    assert [bytes(n.body) for n in stored(db)] == [body, body]


UNREACHABLE = {
    "sqlite": "sqlite:///{tmp}/no-such-folder/db.sqlite",  # a file that cannot be opened
    "postgresql": "postgresql+psycopg://nobody@127.0.0.1:1/nothing",  # a closed port
}


@pytest.mark.parametrize("database", sorted(UNREACHABLE))
@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_503_when_the_database_cannot_be_reached(kind, database, tmp_path, caplog):
    """Database down: is PayPal answered 503 with an empty body (so it re-sends), the
    failure logged, and no stack trace in the answer?"""
    app = create_app(
        CONFIG | {"SQLALCHEMY_DATABASE_URI": UNREACHABLE[database].format(tmp=tmp_path)},
        instance_path=str(tmp_path),
    )
    path, body, content_type, _ = MESSAGES[kind]
    try:
        with caplog.at_level(logging.ERROR):
            r = app.test_client().post(path, data=body, content_type=content_type)
    finally:
        with app.app_context():
            _db.engine.dispose()
            autocommit_engine().dispose()
    assert r.status_code == 503 and r.data == b""
    assert set(r.headers.keys()) >= SECURITY
    assert f"could not store {'an IPN' if kind == 'ipn' else 'a webhook'}" in caplog.text


def _restart_the_database(db) -> None:
    """Break every connection in the intake pool (two of them) underneath it, as a
    database restart does."""
    engine = autocommit_engine()
    pooled = [engine.raw_connection() for _ in range(2)]
    try:
        for conn in pooled:
            if db.engine.dialect.name == "postgresql":
                pid = conn.cursor().execute("SELECT pg_backend_pid()").fetchone()[0]
                db.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                db.session.commit()
            else:
                sqlite = conn.driver_connection
                assert sqlite is not None
                sqlite.close()
    finally:
        for conn in pooled:
            conn.close()


@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_dead_pooled_connections_are_replaced(kind, client, db):
    """The database restarted since the pooled connections were opened: is the message
    stored once, on a fresh connection, and 200 answered?"""
    path, body, content_type, _ = MESSAGES[kind]
    assert client.post(path, data=body, content_type=content_type).status_code == 200
    _restart_the_database(db)
    assert client.post(path, data=body, content_type=content_type).status_code == 200
    assert [bytes(n.body) for n in stored(db)] == [body, body]


def test_what_the_fast_path_leaves_to_flask(client, db, through_flask):
    """Other methods, a body over the limit, a chunked body, a body cut short: Flask's
    answers, as before."""
    r = client.get("/paypal/ipn")
    assert r.status_code == 405 and b"Method not allowed" in r.data
    r = client.post("/paypal/ipn", data=b"x=" + b"a" * 70_000, content_type=FORM)
    assert r.status_code == 413 and b"An IPN is never this large." in r.data
    r = client.post("/paypal/webhook", data=b"{}" + b" " * 300_000, content_type="application/json")
    assert r.status_code == 413 and b"A PayPal webhook event is never this large." in r.data
    body = ipn.signup("I-CHUNKED", T)
    r = client.post(  # as gunicorn passes a chunked body on: no length, read to the end
        "/paypal/ipn",
        input_stream=io.BytesIO(body),
        content_type=FORM,
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"CONTENT_LENGTH": "", "wsgi.input_terminated": True},
    )
    assert r.status_code == 200
    r = client.post(  # the sender hung up before the length it announced
        "/paypal/ipn",
        data=b"txn_type=cut",
        content_type=FORM,
        environ_overrides={"CONTENT_LENGTH": "100"},
    )
    assert r.status_code == 400
    assert len(through_flask) == 5
    assert [bytes(n.body) for n in stored(db)] == [body]


def test_the_address_proxyfix_found_and_hsts_over_https(migrated, tmp_path, clock):
    """Behind our proxy: is the client's address (X-Forwarded-For) stored, as Flask's
    view stored it, and HSTS sent when the proxy says the request came over HTTPS?"""
    app = create_app(
        CONFIG | {"SQLALCHEMY_DATABASE_URI": migrated, "PROXY_FIX": {"x_for": 1, "x_proto": 1}},
        instance_path=str(tmp_path),
    )
    app.extensions["clock"] = clock
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    with app.app_context():
        try:
            r = app.test_client().post(
                "/paypal/ipn", data=b"a=1", content_type=FORM, headers=forwarded
            )
            assert r.status_code == 200
            assert r.headers["Strict-Transport-Security"].startswith("max-age=")
            addresses = _db.session.scalars(select(Notification.remote_addr)).all()
            assert addresses == ["203.0.113.7"]
        finally:
            _db.session.rollback()
            _db.session.execute(delete(Notification))
            _db.session.commit()
            _db.engine.dispose()
            autocommit_engine().dispose()
