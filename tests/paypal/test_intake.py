"""PayPal's endpoints: what they store of a message, committed before the 200; 503 when
the database cannot take it; dead pooled connections replaced."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import Text, cast, select, text

from gateway import create_app
from gateway.billing.statuses import Channel
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


def test_a_message_in_form_encoding_keeps_its_bytes_at_the_webhook(client, db):
    """A webhook sent as a form (not what PayPal sends, but anyone may): are its exact
    bytes stored, never parsed as a form first (which used the stream up: b"" stored)?"""
    body = b"id=WH-FORM&x=%E9"
    assert client.post("/paypal/webhook", data=body, content_type=FORM).status_code == 200
    db.session.rollback()
    assert [bytes(b) for b in db.session.scalars(select(Notification.body))] == [body]


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
