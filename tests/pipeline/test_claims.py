"""Claims: one statement takes the oldest due, unleased, open messages; read from the
partial index of open messages however many were processed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text

from gateway.pipeline import claims as leases
from models import Notification


def _rows(now, n: int, status: str, **extra) -> list[dict]:
    return [
        {
            "channel": "ipn",
            "received_at": now,
            "body": b"x",
            "headers": {},
            "status": status,
            "attempts": 0,
            "next_attempt_at": now,
            **extra,
        }
        for _ in range(n)
    ]


def test_a_claim_takes_the_oldest_due_open_unleased_messages(app, db, clock):
    """Does a claim take open messages that are due and free, oldest first, and leave
    processed, future, and leased ones (and its own, to the next claim)?"""
    now = clock.now()
    db.session.execute(insert(Notification), _rows(now, 2, "processed"))
    db.session.execute(insert(Notification), _rows(now, 1, "pending"))
    db.session.execute(
        insert(Notification), _rows(now, 1, "retry", next_attempt_at=now + timedelta(hours=1))
    )
    db.session.execute(
        insert(Notification), _rows(now, 1, "pending", lease_until=now + timedelta(minutes=5))
    )
    db.session.execute(insert(Notification), _rows(now, 2, "deferred"))
    db.session.execute(insert(Notification), _rows(now, 1, "retry"))
    db.session.commit()
    ids = list(db.session.scalars(select(Notification.id).order_by(Notification.id)))
    assert leases.claim(now, limit=3) == [ids[2], ids[5], ids[6]]
    assert leases.claim(now, limit=3) == [ids[7]]
    assert leases.claim(now, limit=3) == []
    # Two hours on: the retry is due and every lease has run out (none was released).
    assert leases.claim(now + timedelta(hours=2), limit=9) == ids[2:8]


@pytest.mark.postgres_only
def test_a_claim_reads_the_open_index_not_every_processed_id(app, db, clock):
    """On PostgreSQL, with 3,000 processed messages and 3 pending, is the claim's SELECT
    read through an index of open messages (the partial open index, or the due index by
    status), never by walking the primary key past every processed message, and are its
    statuses literals in the SQL? (As bound parameters, a worker's prepared claim gets a
    generic plan after a few runs, which can use neither by status: the helper measured
    208 ms a claim with 1,000,000 processed messages.)"""
    now = clock.now()
    db.session.execute(insert(Notification), _rows(now, 3000, "processed"))
    db.session.execute(insert(Notification), _rows(now, 3, "pending"))
    db.session.commit()
    db.session.execute(text("ANALYZE notifications"))
    compiled = leases.due(now, 100).compile(
        dialect=db.engine.dialect, compile_kwargs={"render_postcompile": True}
    )
    params = compiled.construct_params()
    assert "status IN ('pending', 'retry', 'deferred')" in compiled.string
    raw = db.session.connection().connection.dbapi_connection
    with raw.cursor() as cur:
        cur.execute(f"EXPLAIN (FORMAT JSON) {compiled.string}", params)
        plan = cur.fetchone()[0][0]["Plan"]

    def indexes(node: dict) -> set[str]:
        found = {node["Index Name"]} if "Index Name" in node else set()
        for child in node.get("Plans", []):
            found |= indexes(child)
        return found

    read = indexes(plan)
    assert read and read <= {"ix_notifications_open", "ix_notifications_due"}, plan
    db.session.rollback()
