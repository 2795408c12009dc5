"""Every admin view reachable from the navigation, as the admin benchmark times them.

Each list: every view x every sort x both directions x the first, next and last page (and a
page from the middle, by a cursor at the middle row), each filter, each kind of search; the
PayPal messages list with its filters and searches; the flags, outbox and reconciliation
logs; every detail page; and a member's own account page (100 subscriptions, ~500 payments).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from bench.admin_seed import HUNDRED

#: A view: its name, the path and its query string.
View = tuple[str, str, dict[str, str]]
NEXT = re.compile(r'rel="next" href="([^"]+)"')


def subscription_views(ids: dict[str, Any]) -> Iterator[View]:
    from gateway.subscriptions import listing

    subs = "/admin/subscriptions"
    for view in listing.VIEWS:
        for sort in listing.SORTS:
            for d in ("asc", "desc"):
                base = {"view": view, "sort": sort, "dir": d}
                yield f"subscriptions {view} by {sort} {d}", subs, base
    for state in ("active", "cancelled", "suspended", "ended", "pending", "revoked", "refunded"):
        yield f"subscriptions all state={state}", subs, {"view": "all", "state": state}
    for sort in ("started", "paid_through", "access_until", "id"):
        for d in ("asc", "desc"):
            args = {"view": "all", "state": "pending", "sort": sort, "dir": d}
            yield f"subscriptions state=pending by {sort} {d}", subs, args
    yield "subscriptions active plan=plan-2", subs, {"view": "active", "plan": "plan-2"}
    yield (
        "subscriptions active plan+state by member desc",
        subs,
        {"view": "active", "plan": "plan-3", "state": "active", "sort": "member", "dir": "desc"},
    )
    yield (
        "subscriptions expired state=ended by started",
        subs,
        {"view": "expired", "state": "ended", "sort": "started"},
    )
    searches = {
        "exact PayPal id": ids["paypal_id"],
        "PayPal id prefix": ids["paypal_id"][:8],
        "e-mail exact": ids["email"],
        "e-mail prefix, narrow": ids["email"][:9].upper(),
        "e-mail prefix, broad (j)": "j",
        "e-mail prefix, broad (ma)": "MA",
        "no match": "zzzz-nobody",
    }
    for kind, q in searches.items():
        for sort in listing.SORTS:
            for d in ("asc", "desc"):
                args = {"view": "all", "q": q, "sort": sort, "dir": d}
                yield f"subscriptions search {kind} by {sort} {d}", subs, args
        yield f"subscriptions active search {kind}", subs, {"view": "active", "q": q}


def log_views(ids: dict[str, Any], types: list[str]) -> Iterator[View]:
    pays = "/admin/payments"
    yield "payments", pays, {}
    for status in ("Completed", "Pending", "Refunded", "Partially_Refunded", "Reversed"):
        yield f"payments status={status}", pays, {"status": status}
    for kind, q in {
        "txn id": ids["txn_id"],
        "txn prefix": ids["txn_id"][:6],
        "PayPal subscription id": ids["paypal_id"],
        "e-mail exact": ids["email"],
        "e-mail prefix, narrow": ids["email"][:9],
        "e-mail prefix, broad (jam)": "jam",
        "no match": "zzzz-nobody",
    }.items():
        yield f"payments search {kind}", pays, {"q": q}
    members = "/admin/members"
    yield "members", members, {}
    for kind, q in {
        "narrow": ids["email"][:9].upper(),
        "broad (j)": "j",
        "broad (ma)": "ma",
        "no match": "zzzz",
    }.items():
        yield f"members search {kind}", members, {"q": q}
    msgs = "/admin/messages"
    yield "messages", msgs, {}
    for status in ("processed", "flagged", "invalid", "retry", "pending", "deferred"):
        yield f"messages status={status}", msgs, {"status": status}
    for t in types:
        yield f"messages type={t}", msgs, {"type": t}
    for kind, q in {
        "exact txn id": ids["note_txn_id"],
        "exact subscr id": ids["paypal_id"],
        "txn prefix": ids["note_txn_id"][:5].lower(),
        "subscr prefix": ids["paypal_id"][:7],
        "outcome, common word": "recorded",
        "outcome, rarer phrase": "does not match",
        "outcome, rare": f"(subscription {ids['sub_id']})",
        "no match": "zzzz-nothing",
    }.items():
        yield f"messages search {kind}", msgs, {"q": q}
    yield "messages type+search", msgs, {"type": "subscr_payment", "q": "duplicate"}
    yield "messages status+type", msgs, {"status": "flagged", "type": "subscr_cancel"}
    for state in ("open", "resolved", "all"):
        yield f"flags {state}", "/admin/flags", {"state": state}
    yield "outbox", "/admin/outbox", {}
    yield "reconciliation", "/admin/reconciliation", {}


def single_pages(ids: dict[str, Any]) -> Iterator[View]:
    """The navigation's other pages and every detail page (no paging)."""
    yield "dashboard", "/admin/", {}
    yield "plans", "/admin/plans", {}
    yield "plan edit", f"/admin/plans/{ids['plan_id']}/edit", {}
    yield "roles", "/admin/roles", {}
    yield "access rules", "/admin/rules", {}
    yield "status", "/admin/status", {}
    yield "subscription detail", f"/admin/subscriptions/{ids['sub_id']}", {}
    yield "subscription detail (100-subscription member's)", ids["hundred_sub"], {}
    yield "member detail", f"/admin/members/{ids['user_id']}", {}
    yield "member detail (100 subscriptions)", f"/admin/members/{ids['hundred_id']}", {}
    yield "payment detail", f"/admin/payments/{ids['payment_id']}", {}
    yield "message detail", f"/admin/messages/{ids['note_id']}", {}
    yield "subscription revoke form", f"/admin/subscriptions/{ids['sub_id']}/revoke", {}


def probes() -> tuple[dict[str, Any], list[str]]:
    """Ids of real rows for the detail pages and searches, and the message types."""
    from sqlalchemy import func, select

    from gateway.admin.message_search import known_types
    from models import Notification, Payment, Plan, Subscription, User, db

    def middle(model: Any) -> Any:
        top = db.session.scalar(select(func.max(model.id))) or 1
        return db.session.get(model, top // 2)

    sub: Any = db.session.scalar(
        select(Subscription)
        .where(Subscription.id >= middle(Subscription).id, Subscription.user_id.is_not(None))
        .order_by(Subscription.id)
        .limit(1)
    )
    note: Any = db.session.scalar(
        select(Notification)
        .where(Notification.id >= middle(Notification).id, Notification.txn_id.is_not(None))
        .order_by(Notification.id)
        .limit(1)
    )
    hundred: Any = db.session.scalar(select(User).where(User.email == HUNDRED))
    hundred_sub = db.session.scalar(
        select(Subscription.id).where(Subscription.user_id == hundred.id).limit(1)
    )
    ids = {
        "sub_id": sub.id,
        "paypal_id": sub.paypal_id,
        "email": sub.user.email,
        "user_id": sub.user_id,
        "txn_id": middle(Payment).txn_id,
        "payment_id": middle(Payment).id,
        "note_id": note.id,
        "note_txn_id": note.txn_id,
        "plan_id": db.session.scalar(select(Plan.id).limit(1)),
        "hundred_id": hundred.id,
        "hundred_sub": f"/admin/subscriptions/{hundred_sub}",
    }
    return ids, known_types()


def paged(
    name: str, path: str, args: dict[str, str], get: Callable[[str, dict[str, str]], str]
) -> Iterator[View]:
    """The first, next and last page of a list (the next page's link read off the first)."""
    yield f"{name}, first", path, args
    found = NEXT.search(get(path, args))
    if found:
        href = found.group(1).replace("&amp;", "&")
        target, _, query = href.partition("?")
        nxt = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
        from urllib.parse import unquote_plus

        yield f"{name}, next", target, {k: unquote_plus(v) for k, v in nxt.items()}
    yield f"{name}, last", path, args | {"last": "1"}
