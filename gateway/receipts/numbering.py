"""Receipt numbers: given once per payment PayPal reports paid, gapless in each series.

A series is the configured prefix and the year of issue (TG-2026); its numbers count from
1 (TG-2026-000001). Issuing locks the series' counter row until commit, so two workers
paying at once take turns: each number is given once, in commit order, and a transaction
that rolls back takes its numbers with it (no gap). The lock is taken only when a payment
actually needs a number, at the end of the apply transaction, so it is held briefly.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from flask import current_app
from sqlalchemy import select, update

from models import Payment, Receipt, ReceiptCounter, db

from ..billing.rules.statuses import PaymentStatus
from ..database import insert_new

#: A payment PayPal has not settled (Pending) has no receipt yet; every other status was
#: money received, refunded or not (the receipt then lists the refunds).
UNPAID = (PaymentStatus.PENDING,)


def series_for(now: datetime) -> str:
    return f"{current_app.config['RECEIPT_NUMBER_PREFIX']}-{now.year}"


def number_text(series: str, seq: int) -> str:
    return f"{series}-{seq:06d}"


def _due(sub_ids: Collection[int]) -> list[int]:
    """Paid payments of these subscriptions without a receipt, oldest first."""
    return list(
        db.session.scalars(
            select(Payment.id)
            .outerjoin(Receipt, Receipt.payment_id == Payment.id)
            .where(
                Payment.subscription_id.in_(sorted(sub_ids)),
                Payment.status.not_in(UNPAID),
                Receipt.id.is_(None),
            )
            .order_by(Payment.paid_at, Payment.id)
        )
    )


def issue(sub_ids: Collection[int], now: datetime) -> list[str]:
    """Number every paid payment of these subscriptions that has no receipt yet, in the
    caller's transaction; the numbers given. Safe to call again (a no-op) and from any
    number of processes at once."""
    if not sub_ids or not _due(sub_ids):
        return []  # the common case: no lock taken
    series = series_for(now)
    insert_new(
        ReceiptCounter, [{"series": series, "last": 0}], unique=("series",), returning=("series",)
    )
    # The row lock: whoever got here first commits before this statement returns.
    last = db.session.execute(
        update(ReceiptCounter)
        .where(ReceiptCounter.series == series)
        .values(last=ReceiptCounter.last)
        .returning(ReceiptCounter.last)
    ).scalar_one()
    due = _due(sub_ids)  # again, under the lock: another process may have numbered some
    if not due:
        return []
    db.session.execute(
        update(ReceiptCounter).where(ReceiptCounter.series == series).values(last=last + len(due))
    )
    numbers = [number_text(series, last + i) for i in range(1, len(due) + 1)]
    rows = [
        {"payment_id": pid, "series": series, "seq": last + i, "number": number, "issued_at": now}
        for i, (pid, number) in enumerate(zip(due, numbers, strict=True), start=1)
    ]
    insert_new(Receipt, rows, unique=("payment_id",), returning=("id",))
    return numbers
