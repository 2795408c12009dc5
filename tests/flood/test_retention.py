"""Messages PayPal did not verify are kept in compact form after INBOX_JUNK_KEEP_HOURS
(the job `compact-junk`), verified ones never; compact records go after
INBOX_JUNK_FORGET_DAYS unless something refers to them; the admin sees what was kept."""

from __future__ import annotations

import hashlib

import pytest
from flask import g
from sqlalchemy import select

from gateway.billing.rules.statuses import Channel, NotificationStatus
from gateway.flood.retention import compact_junk
from gateway.pipeline import intake
from gateway.records.flags import raise_flag
from gateway.stopping import Stop
from models import Flag, Notification

KEEP = {"INBOX_JUNK_KEEP_HOURS": 24, "INBOX_JUNK_FORGET_DAYS": 30}
HEADERS = {"User-Agent": "forger/1.0", "Content-Type": "application/x-www-form-urlencoded"}


def message(db, clock, body: bytes, status: str, *, channel=Channel.IPN, verified=False) -> int:
    note_id = intake.store(channel, body, HEADERS, "203.0.113.5", clock.now())
    note = db.session.get(Notification, note_id)
    note.status = NotificationStatus(status)
    note.processed_at = clock.now()
    if verified:
        note.verification, note.verified_at = "VERIFIED", clock.now()
    elif status == "invalid":
        note.verification = "INVALID"
    db.session.commit()
    return note_id


def reread(db, note_id: int) -> Notification:
    db.session.expire_all()
    note = db.session.get(Notification, note_id)
    assert note is not None, f"message {note_id} was deleted"
    return note


def gone(db, note_id: int) -> bool:
    db.session.expire_all()
    return db.session.get(Notification, note_id) is None


@pytest.mark.parametrize("app", [KEEP], indirect=True)
def test_unverified_messages_are_compacted_and_verified_ones_never(app, db, clock):
    forged = message(db, clock, b"txn_type=subscr_payment&forged=1", "invalid")
    gave_up = message(db, clock, b"txn_type=x&postback=never", "flagged")
    flagged_open = message(db, clock, b"txn_type=x&looked_at=no", "flagged")
    raise_flag("postback", "gave up", clock.now(), notification_id=flagged_open)
    verified = message(db, clock, b"txn_type=subscr_payment&real=1", "processed", verified=True)
    verified_flagged = message(db, clock, b"txn_type=x&real=2", "flagged", verified=True)
    ours = message(db, clock, b'{"asked": "us"}', "invalid", channel=Channel.API)
    db.session.commit()
    clock.advance(hours=23)
    recent = message(db, clock, b"txn_type=x&forged=2", "invalid")

    assert compact_junk(clock.now()).startswith("0 unverified message(s) compacted")
    clock.advance(hours=2)  # the first ones are 25 h old, `recent` 2 h
    assert "2 unverified message(s) compacted" in compact_junk(clock.now())

    for note_id, body in ((forged, b"txn_type=subscr_payment&forged=1"), (gave_up, None)):
        note = reread(db, note_id)
        assert note.compacted_at == clock.now() and bytes(note.body) == b""
        assert note.headers == {} and note.remote_addr == "203.0.113.5"
        if body is not None:
            assert note.body_sha256 == hashlib.sha256(body).hexdigest()
            assert note.body_size == len(body)
    for note_id in (flagged_open, verified, verified_flagged, ours, recent):
        note = reread(db, note_id)
        assert note.compacted_at is None and bytes(note.body) != b"" and note.headers
    # Once its flag is resolved, the flagged one goes the same way.
    db.session.scalar(select(Flag)).resolved_at = clock.now()
    db.session.commit()
    assert "1 unverified message(s) compacted" in compact_junk(clock.now())
    assert reread(db, flagged_open).compacted_at is not None


@pytest.mark.parametrize("app", [KEEP], indirect=True)
def test_compact_records_are_forgotten_unless_referred_to(app, db, clock):
    plain = message(db, clock, b"forged=1", "invalid")
    with_flag = message(db, clock, b"forged=2", "invalid")
    raise_flag("signature", "rejected", clock.now(), notification_id=with_flag)
    db.session.scalar(select(Flag)).resolved_at = clock.now()
    verified = message(db, clock, b"real=1", "processed", verified=True)
    db.session.commit()
    clock.advance(days=2)
    compact_junk(clock.now())
    clock.advance(days=29)  # 31 days after they came
    assert compact_junk(clock.now()).endswith("1 compact record(s) deleted")
    assert gone(db, plain)
    assert reread(db, with_flag).compacted_at is not None
    assert not gone(db, verified)


@pytest.mark.parametrize("app", [KEEP | {"INBOX_JUNK_FORGET_DAYS": 0}], indirect=True)
def test_forget_days_zero_keeps_compact_records_for_ever(app, db, clock):
    note_id = message(db, clock, b"forged=1", "invalid")
    clock.advance(days=3650)
    assert compact_junk(clock.now()).startswith("1 unverified message(s) compacted, 0")
    assert reread(db, note_id).body_size == len(b"forged=1")


@pytest.mark.parametrize("app", [KEEP], indirect=True)
def test_the_admin_sees_what_was_kept_and_cannot_reprocess_it(
    app, db, clock, client, login_as, admin
):
    note_id = message(db, clock, b"forged=1&x=y", "invalid")
    clock.advance(days=2)
    compact_junk(clock.now())
    login_as(admin)
    page = client.get(f"/admin/messages/{note_id}").get_data(as_text=True)
    assert hashlib.sha256(b"forged=1&x=y").hexdigest() in page
    assert "12 bytes" in page and "Re-process</button>" not in page
    r = client.post(f"/admin/messages/{note_id}/reprocess", data={"reason": "try"})
    assert r.status_code == 303
    assert reread(db, note_id).status == NotificationStatus.INVALID
    assert client.get("/admin/messages").status_code == 200


@pytest.mark.parametrize("app", [KEEP], indirect=True)
def test_a_stopping_scheduler_ends_the_run_between_batches(app, db, clock):
    """The job checks the scheduler's stop before each batch: a stopping scheduler
    compacts nothing more, and the next run takes the rest."""
    note_id = message(db, clock, b"forged=1", "invalid")
    clock.advance(days=2)
    stop = Stop()
    stop.set("SIGTERM")
    g.stop = stop
    assert compact_junk(clock.now()).startswith("0 unverified")
    del g.stop
    assert compact_junk(clock.now()).startswith("1 unverified")
    assert reread(db, note_id).compacted_at is not None
