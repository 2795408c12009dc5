"""PayPal's endpoints: what they store of a message."""

from __future__ import annotations

from sqlalchemy import select

from models import Notification

FORM = "application/x-www-form-urlencoded"


def test_a_message_in_form_encoding_keeps_its_bytes_at_the_webhook(client, db):
    """A webhook sent as a form (not what PayPal sends, but anyone may): are its exact
    bytes stored, never parsed as a form first (which used the stream up: b"" stored)?"""
    body = b"id=WH-FORM&x=%E9"
    assert client.post("/paypal/webhook", data=body, content_type=FORM).status_code == 200
    db.session.rollback()
    assert [bytes(b) for b in db.session.scalars(select(Notification.body))] == [body]
