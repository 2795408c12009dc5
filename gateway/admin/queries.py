"""Admin table queries: validated filters, whitelisted sorts, paging on indexed columns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, func, or_, select

from models import Plan, Subscription, User, db

from ..billing.statuses import SubscriptionState

VIEWS = ("active", "lapsing", "grace", "expired", "all")
SORTS = {
    "id": Subscription.id,
    "member": User.email,
    "plan": Plan.code,
    "state": Subscription.state,
    "started": Subscription.started_at,
    "paid_through": Subscription.paid_through,
    "access_until": Subscription.access_until,
}


class BadFilter(ValueError):
    """A query-string value the admin tables do not accept (answered with 400)."""


@dataclass(frozen=True)
class SubscriptionFilter:
    view: str = "active"
    plan: str = ""
    state: str = ""
    q: str = ""
    sort: str = "access_until"
    desc: bool = False
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> SubscriptionFilter:
        view = args.get("view", "active")
        if view not in VIEWS:
            raise BadFilter(f"Unknown view {view!r}; use one of {', '.join(VIEWS)}.")
        state = args.get("state", "")
        if state and state not in {s.value for s in SubscriptionState}:
            raise BadFilter(f"Unknown state {state!r}.")
        sort = args.get("sort", "access_until")
        if sort not in SORTS:
            raise BadFilter(f"Cannot sort by {sort!r}; use one of {', '.join(SORTS)}.")
        direction = args.get("dir", "asc")
        if direction not in ("asc", "desc"):
            raise BadFilter("dir must be asc or desc.")
        return cls(
            view=view,
            plan=args.get("plan", "")[:40],
            state=state,
            q=args.get("q", "").strip()[:254],
            sort=sort,
            desc=direction == "desc",
            page=parse_page(args.get("page", "1")),
        )

    def args(self, **changes) -> dict[str, str]:
        """Query-string arguments for links (sort headers, pages, CSV)."""
        values = {
            "view": self.view,
            "plan": self.plan,
            "state": self.state,
            "q": self.q,
            "sort": self.sort,
            "dir": "desc" if self.desc else "asc",
            "page": str(self.page),
        }
        values.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v}


def parse_page(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
        raise BadFilter("page must be a whole number from 1.")
    return int(raw)


def subscriptions(f: SubscriptionFilter, now: datetime, lapsing_days: int) -> Select:
    """The subscriptions an admin asked for, sorted (without paging)."""
    stmt = (
        select(Subscription)
        .outerjoin(Plan, Plan.id == Subscription.plan_id)
        .outerjoin(User, User.id == Subscription.user_id)
    )
    until = Subscription.access_until
    if f.view == "active":
        stmt = stmt.where(until > now)
    elif f.view == "lapsing":
        stmt = stmt.where(until > now, until <= now + timedelta(days=lapsing_days))
    elif f.view == "grace":
        stmt = stmt.where(
            Subscription.grace_until.is_not(None), Subscription.paid_through <= now, until > now
        )
    elif f.view == "expired":
        stmt = stmt.where(
            or_(
                until <= now, and_(until.is_(None), Subscription.state != SubscriptionState.PENDING)
            )
        )
    if f.plan:
        stmt = stmt.where(Plan.code == f.plan)
    if f.state:
        stmt = stmt.where(Subscription.state == f.state)
    if f.q:
        pattern = f"%{escape_like(f.q.lower())}%"
        stmt = stmt.where(
            or_(func.lower(User.email).like(pattern, escape="\\"), Subscription.paypal_id == f.q)
        )
    column = SORTS[f.sort]
    order = column.desc().nulls_last() if f.desc else column.asc().nulls_last()
    tiebreak = Subscription.id.desc() if f.desc else Subscription.id.asc()
    return stmt.order_by(order, tiebreak)


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class Page:
    items: list
    page: int
    pages: int
    total: int


def paginate(stmt: Select, page: int, size: int) -> Page:
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    pages = max(1, -(-total // size))
    items = db.session.scalars(stmt.limit(size).offset((page - 1) * size)).unique().all()
    return Page(items=list(items), page=page, pages=pages, total=total)
