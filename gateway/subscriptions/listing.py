"""The subscriptions table as an admin queries it: validated filters, whitelisted sorts
(keyset-paged by gateway/paging.py), prefix search."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from flask import g, has_request_context
from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    func,
    or_,
    select,
    text,
    union,
)
from sqlalchemy.orm import contains_eager

from models import Plan, Subscription, User, db

from ..billing.rules.statuses import SubscriptionState
from ..paging import BadFilter, Paging, SortKey, escape_like

VIEWS = ("active", "lapsing", "grace", "expired", "all")
S = Subscription
#: The subscriptions table's sorts, each served by a (column, id) index read either way.
#: "plan" groups by the plan's id (the order plans were created): one index, no join.
#: "member" walks users by e-mail (their unique index) and each one's subscriptions by
#: (user_id, id): its non-NULL pieces test `email IS NOT NULL`, a condition on users that
#: turns the outer join inner, so PostgreSQL can drive the page from the e-mail index (a
#: nested loop and an Incremental Sort of each member's few rows) rather than join and sort
#: every subscription. Its NULL piece (no member) reads (user_id, id).
SORTS = {
    "id": SortKey(S.id, lambda s: s.id, int),
    "member": SortKey(
        User.email,
        lambda s: s.user.email if s.user else None,
        str,
        null_when=S.user_id.is_(None),
        present_when=User.email.is_not(None),
        null_column=S.user_id,
    ),
    "plan": SortKey(S.plan_id, lambda s: s.plan_id, int, S.plan_id.is_(None)),
    "state": SortKey(S.state, lambda s: str(s.state), str),
    "started": SortKey(S.started_at, lambda s: s.started_at, datetime, S.started_at.is_(None)),
    "paid_through": SortKey(
        S.paid_through, lambda s: s.paid_through, datetime, S.paid_through.is_(None)
    ),
    "access_until": SortKey(
        S.access_until, lambda s: s.access_until, datetime, S.access_until.is_(None)
    ),
}


@dataclass(frozen=True)
class SubscriptionFilter:
    view: str = "active"
    plan: str = ""
    state: str = ""
    q: str = ""
    sort: str = "access_until"
    desc: bool = False
    paging: Paging = Paging()

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
            paging=Paging.from_args(args),
        )

    def args(self, **changes) -> dict[str, str]:
        """Query-string arguments for links (sort headers, pages, CSV): no paging in them."""
        values = {
            "view": self.view,
            "plan": self.plan,
            "state": self.state,
            "q": self.q,
            "sort": self.sort,
            "dir": "desc" if self.desc else "asc",
        }
        values.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v}


def subscriptions(f: SubscriptionFilter, now: datetime, lapsing_days: int) -> Select:
    """The subscriptions an admin asked for (unsorted; `keyset.page` sorts and pages).

    Member and plan are joined once, loading only what a row shows (never a password hash).
    """
    return filtered(rows(), f, now, lapsing_days)


def page_ids(f: SubscriptionFilter, now: datetime, lapsing_days: int) -> Select:
    """The same subscriptions for reading a page's ids (`paging.fetch` with `rows_of`):
    joined to members only when the sort or a broad search reads their e-mail. A join,
    even one PostgreSQL drops as unused, keeps it from seeing that a state filter fixes
    the (state, column, id) index's first column, and it walks the column's own index."""
    members = f.sort == "member" or (f.q and not few_matches(f.q))
    base = select(S).outerjoin(User, User.id == S.user_id) if members else select(S)
    return filtered(base, f, now, lapsing_days)


def filtered(stmt: Select, f: SubscriptionFilter, now: datetime, lapsing_days: int) -> Select:
    """`stmt` (subscriptions, joined to users if a search may read them) with the view,
    plan, state and search filters."""
    until = S.access_until
    if f.view == "active":
        stmt = stmt.where(until > now)
    elif f.view == "lapsing":
        stmt = stmt.where(until > now, until <= now + timedelta(days=lapsing_days))
    elif f.view == "grace":
        stmt = stmt.where(in_grace(now))
    elif f.view == "expired":
        stmt = stmt.where(
            or_(until <= now, and_(until.is_(None), S.state != SubscriptionState.PENDING))
        )
    if f.plan:  # by plan_id (a subquery), so the page's id query need not join plans
        stmt = stmt.where(S.plan_id.in_(select(Plan.id).where(Plan.code == f.plan)))
    if f.state:
        stmt = stmt.where(S.state == f.state)
    if f.q:
        stmt = stmt.where(matching(f.q))
    return stmt


def rows() -> Select:
    """Subscriptions with their member and plan joined once, loading only what a row shows
    (never a password hash): the list's statement before any filter."""
    return (
        select(S)
        .outerjoin(Plan, Plan.id == S.plan_id)
        .outerjoin(User, User.id == S.user_id)
        .options(
            contains_eager(S.plan).load_only(Plan.id, Plan.code),
            contains_eager(S.user).load_only(User.id, User.email),
        )
    )


def in_grace(now: datetime) -> ColumnElement[bool]:
    """Subscriptions in grace now: a renewal failed (`grace_until` set), what was paid for
    has run out and access has not.

    Few rows match, and no sort's index finds them: walked in a sort's order, a page would
    read every row with access to fill up. The partial index `ix_subscriptions_grace` holds
    only rows with a grace date, tests both ranges inside the index and (PostgreSQL)
    carries every sort's column, so a page's ids are its few entries, sorted."""
    return and_(S.grace_until.is_not(None), S.paid_through <= now, S.access_until > now)


#: Sorts whose column a view never leaves NULL (its own filter tests it against `now`).
NOT_NULL_IN_VIEW = {
    "active": {"access_until"},
    "lapsing": {"access_until"},
    "grace": {"access_until", "paid_through"},
}


def sort_key(f: SubscriptionFilter, now: datetime | None = None) -> SortKey:
    """The sort's key for this view: without a NULL piece where the view has no NULLs.

    Asked for `access_until IS NULL AND access_until > now`, PostgreSQL does not see that
    no row can match and walks a whole index for the page's NULLs: on the last page of the
    active view, a million rows. The expired view sorted by access-until says what its
    dated rows are (`access_until <= now`), a range of the sort's index: its OR alone is a
    filter, read past every row with access (newest first, most of the table)."""
    key = SORTS[f.sort]
    if f.sort in NOT_NULL_IN_VIEW.get(f.view, ()):
        return replace(key, null_when=None, present_when=None)
    if f.view == "expired" and f.sort == "access_until" and now is not None:
        return replace(key, present_when=S.access_until <= now)
    return key


def order_of(f: SubscriptionFilter) -> list[ColumnElement[Any]]:
    """The table's order as ORDER BY terms (for the CSV, which reads every row in one go)."""
    col = SORTS[f.sort].column
    if f.desc:
        return [col.desc().nulls_first(), S.id.desc()]
    return [col.asc().nulls_last(), S.id.asc()]


#: A search matching more than this (members or PayPal ids) filters the sort's walk instead
#: of sorting every match (either shape costs most near the line: 1% of a million).
FEW = 5_000


def matching(q: str) -> ColumnElement[bool]:
    """Subscriptions the search `q` finds, in the shape its breadth needs: a few have their
    ids read from each branch's index (`search_ids`) and sorted; a broad prefix (a letter
    or two of an e-mail: a fifth of the members) would list hundreds of thousands of ids
    to sort, so it becomes a filter on the sort's walk, which meets a match every few rows
    (each row's member looked up by primary key, on the list's own join to users)."""
    prefix = f"{escape_like(q.upper())}%"
    if few_matches(q):
        return S.id.in_(search_ids(q))
    paypal = [S.paypal_id == q]
    if "@" not in q:
        paypal.append(S.paypal_id.like(prefix, escape="\\"))
    if not _more_than(select(S.id).where(or_(*paypal)), 0):
        return and_(email_prefix(q), *email_range(q))  # e-mails alone: bounded for the walk
    return or_(*paypal, email_prefix(q))  # on the joined member: looked up per row


def email_range(q: str) -> list[ColumnElement[bool]]:
    """Bounds of the e-mails starting with `q` that an e-mail index can start and stop a
    walk at (the member sort), where the database orders text byte by byte (collation C,
    C.UTF-8; SQLite's BINARY): there every such e-mail lies in [q, q with its last letter
    one higher). Linguistic collations order otherwise, so they get none (a broad prefix
    sorted by member then walks the e-mails before it)."""
    low = q.strip().lower()
    if not low or ord(low[-1]) >= 0x10FFFF or not _byte_ordered():
        return []
    return [User.email >= low, User.email < low[:-1] + chr(ord(low[-1]) + 1)]


def _byte_ordered() -> bool:
    if db.engine.dialect.name != "postgresql":
        return True
    collation = db.session.scalar(
        text("SELECT datcollate FROM pg_database WHERE datname = current_database()")
    )
    return str(collation).lower() in {"c", "posix", "c.utf-8", "c.utf8"}


def few_matches(q: str) -> bool:
    """Does the search `q` match at most FEW members and PayPal ids? (Each probe reads at
    most FEW + 1 index entries; the answer is kept for the request.)"""
    known = g.setdefault("few_matches", {}) if has_request_context() else {}
    if q not in known:
        probes = [select(User.id).where(email_prefix(q))]
        if "@" not in q:
            prefix = f"{escape_like(q.upper())}%"
            probes.append(select(S.id).where(S.paypal_id.like(prefix, escape="\\")))
        known[q] = not any(_more_than(probe, FEW) for probe in probes)
    return known[q]


def _more_than(stmt: Select, n: int) -> bool:
    """Does `stmt` match more than `n` rows? (Reads at most n + 1 of them.)"""
    bounded = select(func.count()).select_from(stmt.limit(n + 1).subquery())
    return (db.session.scalar(bounded) or 0) > n


def search_ids(q: str) -> CompoundSelect:
    """Ids of subscriptions whose PayPal id is `q` or starts with it, or whose member's
    e-mail starts with `q` (both in any case). Separate branches, so each uses its own index:
    the exact id its unique key, the prefixes their pattern indexes."""
    prefix = f"{escape_like(q.upper())}%"  # PayPal's ids are upper case
    branches = [select(S.id).where(S.paypal_id == q)]
    if "@" not in q:
        branches.append(select(S.id).where(S.paypal_id.like(prefix, escape="\\")))
    branches.append(select(S.id).join(User, User.id == S.user_id).where(email_prefix(q)))
    return union(*branches)


def email_prefix(q: str) -> ColumnElement[bool]:
    """Members whose e-mail starts with `q`, in any case: e-mails are stored lower-cased
    (`User.normalise_email`), so this is a plain LIKE 'abc%' on the e-mail pattern index."""
    return User.email.like(f"{escape_like(q.lower())}%", escape="\\")
