"""Anything anyone can POST is stored, and no stored byte sequence breaks an admin page."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from gateway.billing.formats.ipn import decode_body
from models import Notification
from tests.inbox import process_due

CODECS = [
    "rot13",
    "hex",
    "base64",
    "zlib",
    "bz2",
    "uu",
    "quopri",
    "idna",
    "punycode",
    "undefined",
    "utf-16",
    "utf-32",
    "unicode_escape",
    "mbcs",
    "x-nonsense",
    "",
]


@pytest.mark.parametrize("charset", CODECS)
def test_a_body_naming_any_codec_is_readable_everywhere(
    ready, client, db, login_as, admin, charset
):
    """charset=rot13 (hex, zlib, idna, ...): stored, processed, and every admin page is 200."""
    body = (
        f"txn_type=subscr_signup&subscr_id=I-CODEC&first_name=Jos%E9%00%FF&charset={charset}"
        "&receiver_email=merchant@example.com&item_number=premium-monthly"
    ).encode()
    assert (
        client.post(
            "/paypal/ipn", data=body, content_type="application/x-www-form-urlencoded"
        ).status_code
        == 200
    )
    process_due()
    note = db.session.scalar(select(Notification))
    login_as(admin)
    for url in (
        "/admin/messages",
        f"/admin/messages/{note.id}",
        "/admin/messages?q=I-CODEC",
        f"/admin/messages/{note.id}/raw",
    ):
        assert client.get(url).status_code == 200, url
    fields, used = decode_body(note.body)
    assert fields["subscr_id"] == "I-CODEC"
    if charset in (
        "rot13",
        "hex",
        "base64",
        "zlib",
        "bz2",
        "uu",
        "quopri",
        "idna",
        "punycode",
        "undefined",
        "mbcs",
        "x-nonsense",
        "",
    ):
        assert used == "windows-1252"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=300))
def test_random_bytes_never_break_the_message_pages(ready, client, db, login_as, admin, raw):
    """Random bodies (NULs, broken escapes, odd charsets): stored as sent, pages answer 200."""
    assert (
        client.post(
            "/paypal/ipn", data=raw, content_type="application/x-www-form-urlencoded"
        ).status_code
        == 200
    )
    process_due()
    note = db.session.scalars(select(Notification).order_by(Notification.id.desc())).first()
    assert note.body == raw
    login_as(admin)
    assert client.get(f"/admin/messages/{note.id}").status_code == 200
    assert client.get("/admin/messages").status_code == 200
