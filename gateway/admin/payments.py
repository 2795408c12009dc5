"""Admin: every payment PayPal reported, with its status and the period it bought.

Newest first, keyset-paged on (paid_at, id); the search is exact-or-prefix on the txn id,
the PayPal subscription id or the member's e-mail, each a separate branch on its own index.
Each row names its member, read for the page's rows only (the paged query joins nothing).
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import ColumnElement, CompoundSelect, Select, func, or_, select, union
from sqlalchemy.orm import load_only

from models import Payment, Subscription, User, db

from ..billing.rules.statuses import PaymentStatus
from ..paging import BadFilter, Paging, SortKey, escape_like, requested
from ..subscriptions.listing import email_prefix

bp = Blueprint("payments", __name__, url_prefix="/payments")
STATUSES = tuple(s.value for s in PaymentStatus)
PAID_AT = SortKey(Payment.paid_at, lambda p: p.paid_at, datetime)
#: Shorter searches would match too much to be worth a prefix scan; they match exactly only.
PREFIX_FROM = 3


def search_ids(q: str) -> CompoundSelect:
    """Ids of payments whose txn id, whose subscription's PayPal id, or whose member's e-mail
    (any case) is or starts with `q`. A member's payments are found from the e-mail's index,
    then their subscriptions by `user_id`, then the payments by `subscription_id`."""
    p, s = Payment, Subscription

    def of_members(match: ColumnElement[bool]) -> Select:
        members = select(s.id).join(User, User.id == s.user_id).where(match)
        return select(p.id).where(p.subscription_id.in_(members))

    branches = [
        select(p.id).where(p.txn_id == q),
        select(p.id).where(p.subscription_id.in_(select(s.id).where(s.paypal_id == q))),
        of_members(User.email == q.lower()),  # e-mails are stored lower-cased
    ]
    if len(q) >= PREFIX_FROM:
        prefix = f"{escape_like(q)}%"
        branches += [
            select(p.id).where(p.txn_id.like(prefix, escape="\\")),
            select(p.id).where(
                p.subscription_id.in_(select(s.id).where(s.paypal_id.like(prefix, escape="\\")))
            ),
            of_members(email_prefix(q)),
        ]
    return union(*branches)


#: An e-mail prefix matching more members than this (their payments: ten times as many)
#: is searched by filtering the newest-first walk, not by sorting every match.
FEW_MEMBERS = 1_000


def few_members(q: str) -> bool:
    """Does `q`, as an e-mail prefix, match at most FEW_MEMBERS members? (Reads at most
    FEW_MEMBERS + 1 entries of the e-mail index.)"""
    if len(q) < PREFIX_FROM:
        return True  # exact matches only
    some = select(User.id).where(email_prefix(q)).limit(FEW_MEMBERS + 1).subquery()
    return (db.session.scalar(select(func.count()).select_from(some)) or 0) <= FEW_MEMBERS


def broad_match(q: str) -> ColumnElement[bool]:
    """The search `q` as a condition on each payment: its txn id, or its subscription's
    PayPal id or member's e-mail (looked up through the subscription's primary key)."""
    p, s = Payment, Subscription
    prefix = f"{escape_like(q)}%"
    # A scalar subquery, not EXISTS: PostgreSQL may run an EXISTS once for every match
    # (hashed, here 50,000 subscriptions); this one it runs per row walked, two look-ups.
    owner = (
        select(s.id)
        .join(User, User.id == s.user_id)
        .where(
            s.id == p.subscription_id,
            or_(s.paypal_id == q, s.paypal_id.like(prefix, escape="\\"), email_prefix(q)),
        )
        .scalar_subquery()
    )
    return or_(p.txn_id == q, p.txn_id.like(prefix, escape="\\"), owner.is_not(None))


def members_of(payments: list[Payment]) -> dict[int, tuple[int, str]]:
    """Each listed payment's subscription id -> (member id, e-mail), for the page's rows
    only; a subscription without a member is absent."""
    sub_ids = {pay.subscription_id for pay in payments}
    if not sub_ids:
        return {}
    s = Subscription
    rows = db.session.execute(
        select(s.id, User.id, User.email).join(User, User.id == s.user_id).where(s.id.in_(sub_ids))
    )
    return {sub_id: (user_id, email) for sub_id, user_id, email in rows}


def parse_filters(args) -> tuple[str, str]:
    """(status, q) from a query string; an unknown status is a BadFilter."""
    status = args.get("status", "")
    if status and status not in STATUSES:
        raise BadFilter(f"Unknown status {status!r}.")
    return status, args.get("q", "").strip()[:64]


@bp.route("")
def index() -> ResponseReturnValue:
    try:
        status, q = parse_filters(request.args)
        paging = Paging.from_args(request.args)
    except BadFilter as e:
        abort(400, description=str(e))
    stmt = select(Payment).options(
        load_only(
            Payment.id,
            Payment.txn_id,
            Payment.status,
            Payment.amount,
            Payment.currency,
            Payment.fee,
            Payment.paid_at,
            Payment.period_start,
            Payment.period_end,
            Payment.subscription_id,
        )
    )
    if status:
        stmt = stmt.where(Payment.status == status)
    broad = bool(q) and not few_members(q)
    if broad:  # a filter on the newest-first walk, each row's member looked up
        stmt = stmt.where(broad_match(q))
    elif q:
        stmt = stmt.where(Payment.id.in_(search_ids(q)))
    page = requested(stmt, "paid_at", PAID_AT, Payment.id, True, paging, counted=not broad)
    return render_template(
        "admin/payments.html",
        page=page,
        members=members_of(page.items),
        status=status,
        q=q,
        statuses=STATUSES,
    )
