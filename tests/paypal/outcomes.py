"""Shared by the order and concurrency tests: wipe the PayPal tables, read a final state."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from models import Notification, Payment, Subscription

#: What the tests set up themselves and keep between examples.
KEPT = {"users", "plans", "login_failures", "job_leases", "job_runs"}


def wipe(db: Any) -> None:
    """Delete everything the messages created, children first (the schema's own order)."""
    db.session.rollback()
    for table in reversed(db.metadata.sorted_tables):
        if table.name not in KEPT:
            db.session.execute(delete(table))
    db.session.commit()


def final_state(db: Any, paypal_id: str) -> tuple[Any, ...]:
    """The subscription's derived dates and every payment's period; all messages processed."""
    db.session.expire_all()
    sub = db.session.scalar(select(Subscription).where(Subscription.paypal_id == paypal_id))
    pays = sorted(
        (p.txn_id, p.status, p.period_start, p.period_end)
        for p in db.session.scalars(select(Payment))
    )
    notes = db.session.scalars(select(Notification)).all()
    assert all(n.status == "processed" for n in notes), [(n.status, n.error) for n in notes]
    return (sub.state, sub.paid_through, sub.grace_until, sub.access_until, sub.cancelled_at, pays)
