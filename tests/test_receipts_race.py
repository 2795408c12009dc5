"""Two payments numbered at the same moment by two workers (PostgreSQL, real threads, each
with its own app context and session): one number each, gapless, in commit order."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

from gateway.billing.rules.statuses import PaymentStatus
from gateway.receipts import numbering
from models import Payment, Receipt
from models import db as _db

pytestmark = pytest.mark.postgres_only


def test_two_workers_take_turns_for_the_series(
    app, db, clock, make_user, make_plan, make_subscription
):
    """The second waits for the first's commit, then takes the next number; a rolled-back
    issue gives its number back."""
    plan = make_plan("premium-monthly", role="premium")
    subs = [make_subscription(make_user(), plan, paypal_id=f"I-RACE{i}") for i in range(3)]
    for i, sub in enumerate(subs):
        db.session.add(
            Payment(
                subscription_id=sub.id,
                txn_id=f"TXNRACE{i}",
                status=PaymentStatus.COMPLETED,
                amount=Decimal("9.00"),
                currency="USD",
                paid_at=clock.now(),
                created_at=clock.now(),
            )
        )
    db.session.commit()
    first_has_number, release = threading.Event(), threading.Event()
    got: dict[str, list[str]] = {}
    order: list[str] = []

    def issue(name: str, sub_id: int, hold: bool, commit: bool = True) -> None:
        with app.app_context():
            got[name] = numbering.issue([sub_id], clock.now())
            if hold:
                first_has_number.set()
                release.wait(10)
            order.append(name)
            _db.session.commit() if commit else _db.session.rollback()
            _db.session.remove()

    # A rolled-back issue first: its number goes back to the counter.
    loser = threading.Thread(target=issue, args=("loser", subs[2].id, False, False))
    loser.start()
    loser.join()
    a = threading.Thread(target=issue, args=("a", subs[0].id, True))
    b = threading.Thread(target=issue, args=("b", subs[1].id, False))
    a.start()
    assert first_has_number.wait(10)
    b.start()
    b.join(0.5)
    assert b.is_alive(), "b must wait for a's lock on the series"
    release.set()
    a.join(10)
    b.join(10)
    assert got["loser"] == ["TG-2026-000001"]
    assert (got["a"], got["b"], order[1:]) == (["TG-2026-000001"], ["TG-2026-000002"], ["a", "b"])
    db.session.expire_all()
    rows = db.session.execute(select(Receipt.number, Payment.txn_id).join(Payment)).all()
    assert sorted(rows) == [("TG-2026-000001", "TXNRACE0"), ("TG-2026-000002", "TXNRACE1")]
    with app.app_context():  # stable: asked again, nothing changes
        assert numbering.issue([s.id for s in subs[:2]], clock.now()) == []
