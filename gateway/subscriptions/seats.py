"""Limited seats: a plan with `seat_limit` sells at most that many.

A seat is a `SeatHold` row, numbered 1..seat_limit. Taking one is an INSERT ... ON
CONFLICT (plan_id, seat_no) DO NOTHING of the lowest number that looked free, then the
next: the unique pair, not a count read beforehand, decides who gets the last seat, so two
members racing for it end with one winner on SQLite and PostgreSQL alike.

A checkout holds its seat until the checkout expires; the subscription its payment creates
confirms it (`held_until` None). A payment whose hold had lapsed on a plan that has since
sold out still gets its subscription (money is never dropped) and an overflow seat above
the limit, which the caller flags. Expired holds and the seats of lapsed subscriptions are
released by the jobs and, on demand, right before a seat is taken.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import count
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from models import Checkout, Plan, SeatHold, Subscription, db

from ..billing.rules.statuses import CheckoutStatus, SubscriptionState
from ..database import insert_new

#: Subscriptions in these states no longer renew; once their access has ended, the seat is free.
LAPSED_STATES = (
    SubscriptionState.ENDED,
    SubscriptionState.CANCELLED,
    SubscriptionState.REFUNDED,
    SubscriptionState.CHARGED_BACK,
    SubscriptionState.REVOKED,
)


class SoldOut(Exception):
    """Every seat of the plan is taken or held."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(f"plan {plan.code} is sold out ({plan.seat_limit} seats)")
        self.plan = plan


@dataclass(frozen=True)
class SeatUsage:
    limit: int
    used: int  # confirmed by a subscription that has not lapsed
    held: int  # held by an open checkout whose hold runs
    free: int
    over: int  # taken beyond the limit (payments that came after their hold lapsed)


def hold(checkout: Checkout, now: datetime) -> SeatHold | None:
    """Hold a seat for the checkout until it expires; its existing hold is kept (extended).

    None for a plan without a limit. Raises SoldOut; the caller rolls back its transaction.
    """
    plan = checkout.plan
    if plan.seat_limit is None:
        return None
    # Concurrent requests reusing one checkout take turns (PostgreSQL; SQLite has one writer).
    db.session.execute(select(Checkout.id).where(Checkout.id == checkout.id).with_for_update())
    seat = _seat_of(checkout)
    if seat is not None:
        seat.held_until = checkout.expires_at
        return seat
    release_lapsed(now, plan_id=plan.id)
    seat = _take(
        plan.id,
        _free_numbers(plan.id, plan.seat_limit),
        checkout_id=checkout.id,
        held_until=checkout.expires_at,
        created_at=now,
    )
    if seat is None:
        raise SoldOut(plan)
    return seat


def confirm(
    checkout: Checkout | None, sub: Subscription, plan: Plan | None, now: datetime
) -> tuple[SeatHold | None, bool]:
    """Give the new subscription its seat: the checkout's hold if it still has one, else
    any free seat, else an overflow seat above the limit. Returns (seat, overflow)."""
    if plan is None or plan.seat_limit is None:
        return None, False
    seat = db.session.scalar(select(SeatHold).where(SeatHold.subscription_id == sub.id))
    if seat is None and checkout is not None:
        seat = _seat_of(checkout)
    if seat is None:
        release_lapsed(now, plan_id=plan.id)
        taken = {"checkout_id": checkout.id if checkout else None, "created_at": now}
        seat = _take(plan.id, _free_numbers(plan.id, plan.seat_limit), **taken) or _take(
            plan.id, count(_top(plan.id, plan.seat_limit) + 1), **taken
        )
    assert seat is not None  # overflow numbers never run out
    seat.held_until, seat.subscription_id = None, sub.id
    return seat, seat.seat_no > plan.seat_limit


def release_checkout(checkout: Checkout) -> int:
    """Free the checkout's unconfirmed hold (it was cancelled)."""
    result = db.session.execute(
        delete(SeatHold).where(
            SeatHold.checkout_id == checkout.id, SeatHold.subscription_id.is_(None)
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def release_lapsed(now: datetime, *, plan_id: int | None = None) -> int:
    """Free expired holds of unconfirmed checkouts and the seats of lapsed subscriptions
    (of one plan, or all); then move overflow seats down into the numbers freed.
    Returns how many seats were freed."""
    closed = select(Checkout.id).where(
        Checkout.status.in_((CheckoutStatus.EXPIRED, CheckoutStatus.CANCELLED))
    )
    gone = select(Subscription.id).where(lapsed(now))
    stmt = (
        select(SeatHold.id)
        .where(
            or_(
                and_(
                    SeatHold.subscription_id.is_(None),
                    or_(SeatHold.held_until <= now, SeatHold.checkout_id.in_(closed)),
                ),
                SeatHold.subscription_id.in_(gone),
            )
        )
        .order_by(SeatHold.id)
        # Locked in one order; rows another transaction is releasing are left to it.
        .with_for_update(skip_locked=True)
    )
    if plan_id is not None:
        stmt = stmt.where(SeatHold.plan_id == plan_id)
    ids = list(db.session.scalars(stmt))
    if ids:
        db.session.execute(delete(SeatHold).where(SeatHold.id.in_(ids)))
    _fill_gaps(plan_id)
    return len(ids)


def lapsed(now: datetime) -> ColumnElement[bool]:
    """A subscription whose access has ended and that will not renew."""
    return and_(
        Subscription.state.in_(LAPSED_STATES),
        or_(Subscription.access_until.is_(None), Subscription.access_until <= now),
    )


def usage(plan_ids: Collection[int], now: datetime) -> dict[int, SeatUsage]:
    """Seats used, held and free for each of these plans that has a limit."""
    limits: dict[int, int] = {
        pid: limit
        for pid, limit in db.session.execute(
            select(Plan.id, Plan.seat_limit).where(
                Plan.id.in_(list(plan_ids)), Plan.seat_limit.is_not(None)
            )
        )
        if limit is not None
    }
    confirmed = and_(SeatHold.subscription_id.is_not(None), ~lapsed(now))
    live = and_(SeatHold.subscription_id.is_(None), SeatHold.held_until > now)
    counts = {
        pid: (int(used or 0), int(held or 0))
        for pid, used, held in db.session.execute(
            select(
                SeatHold.plan_id,
                func.sum(case((confirmed, 1), else_=0)),
                func.sum(case((live, 1), else_=0)),
            )
            .outerjoin(Subscription, Subscription.id == SeatHold.subscription_id)
            .where(SeatHold.plan_id.in_(list(limits)))
            .group_by(SeatHold.plan_id)
        )
    }
    result = {}
    for pid, limit in limits.items():
        used, held = counts.get(pid, (0, 0))
        result[pid] = SeatUsage(
            limit, used, held, max(0, limit - used - held), max(0, used + held - limit)
        )
    return result


def _seat_of(checkout: Checkout) -> SeatHold | None:
    """The checkout's seat, locked and read afresh (a job may be releasing it)."""
    return db.session.scalar(
        select(SeatHold)
        .where(SeatHold.checkout_id == checkout.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _take(plan_id: int, numbers: Iterable[int], **values: Any) -> SeatHold | None:
    """Insert the first of these seat numbers nobody holds; a conflict tries the next."""
    for seat_no in numbers:
        row = {"plan_id": plan_id, "seat_no": seat_no, **values}
        created = insert_new(SeatHold, [row], unique=("plan_id", "seat_no"), returning=("id",))
        if created:
            return db.session.get_one(SeatHold, created[0][0])
    return None


def _free_numbers(plan_id: int, limit: int) -> Iterator[int]:
    """Seat numbers 1..limit that nobody held a moment ago, lowest first."""
    taken = set(
        db.session.scalars(
            select(SeatHold.seat_no).where(SeatHold.plan_id == plan_id, SeatHold.seat_no <= limit)
        )
    )
    return (n for n in range(1, limit + 1) if n not in taken)


def _top(plan_id: int, limit: int) -> int:
    top = db.session.scalar(select(func.max(SeatHold.seat_no)).where(SeatHold.plan_id == plan_id))
    return max(limit, top or 0)


def _fill_gaps(plan_id: int | None) -> None:
    """Move seats above the limit (overflow, or a lowered limit) into free numbers within it,
    so that a freed seat goes to the member already over the limit, not to a new buyer."""
    stmt = (
        select(SeatHold.id, SeatHold.plan_id, Plan.seat_limit)
        .join(Plan, Plan.id == SeatHold.plan_id)
        .where(Plan.seat_limit.is_not(None), SeatHold.seat_no > Plan.seat_limit)
        .order_by(SeatHold.plan_id, SeatHold.seat_no)
    )
    if plan_id is not None:
        stmt = stmt.where(SeatHold.plan_id == plan_id)
    for seat_id, pid, limit in db.session.execute(stmt).all():
        free = next(_free_numbers(pid, limit), None) if limit is not None else None
        if free is None:
            continue
        try:
            with db.session.begin_nested():
                db.session.execute(
                    update(SeatHold).where(SeatHold.id == seat_id).values(seat_no=free)
                )
        except IntegrityError:  # a new hold took that number meanwhile: it stays over
            pass


def held_by(user_id: int, now: datetime) -> set[int]:
    """Plans on which this member's open checkout holds a seat right now."""
    return set(
        db.session.scalars(
            select(SeatHold.plan_id)
            .join(Checkout, Checkout.id == SeatHold.checkout_id)
            .where(
                Checkout.user_id == user_id,
                Checkout.status == CheckoutStatus.OPEN,
                SeatHold.subscription_id.is_(None),
                SeatHold.held_until > now,
            )
        )
    )
