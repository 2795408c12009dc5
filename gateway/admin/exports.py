"""Admin CSV exports: subscriptions, members and payments, streamed row by row.

Rows are fetched in batches (`yield_per`: a server-side cursor on PostgreSQL) and written
as they arrive, so memory stays flat however large the table. Every text cell passes
through `csv_safe`, so a spreadsheet never runs a member's e-mail as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal

from flask import Blueprint, Response, abort, current_app, request, stream_with_context
from sqlalchemy import case, func, select

from models import Payment, Plan, Subscription, User, db

from ..clock import now
from ..paging import BadFilter
from ..subscriptions.display import status_of
from ..subscriptions.listing import SubscriptionFilter, email_prefix, order_of, subscriptions
from .payments import parse_filters, search_ids

bp = Blueprint("exports", __name__)

#: What a spreadsheet may read as the start of a formula (OWASP's list).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BATCH = 500


def csv_safe(value: object) -> str:
    """A cell a spreadsheet shows as text: a leading quote disarms a would-be formula.

    Numbers are written as they are (a negative amount is not a formula); any text that
    starts like one, e-mail addresses and PayPal's fields included, gets the quote.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | Decimal | float):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Response:
    """Stream `rows` (consumed lazily, inside the request) as a CSV download."""

    def body() -> Iterator[str]:
        buf = io.StringIO()
        out = csv.writer(buf)
        out.writerow([csv_safe(h) for h in header])
        for i, row in enumerate(rows, 1):
            out.writerow([csv_safe(v) for v in row])
            if i % 200 == 0:
                yield buf.getvalue()
                buf.seek(0), buf.truncate()
        yield buf.getvalue()

    return Response(
        stream_with_context(body()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _stamp() -> str:
    return f"{now():%Y%m%d-%H%M}"


SUBSCRIPTION_COLUMNS = (
    "id",
    "member",
    "plan",
    "roles",
    "state",
    "status",
    "paypal_id",
    "started_at",
    "paid_through",
    "grace_until",
    "access_until",
    "cancelled_at",
    "ended_at",
)


@bp.route("/subscriptions.csv")
def subscriptions_csv() -> Response:
    """The subscriptions table's current view and filters, every page of it."""
    try:
        f = SubscriptionFilter.from_args(request.args)
    except BadFilter as e:
        abort(400, description=str(e))
    at = now()
    stmt = subscriptions(f, at, int(current_app.config["LAPSING_DAYS"])).order_by(*order_of(f))

    def rows() -> Iterator[Sequence[object]]:
        for s in db.session.scalars(stmt.execution_options(yield_per=BATCH)):
            yield (
                s.id,
                s.user.email if s.user else "",
                s.plan.code if s.plan else "(unknown plan)",
                " ".join(s.plan.role_names) if s.plan else "",
                s.state,
                status_of(s, at),
                s.paypal_id,
                s.started_at,
                s.paid_through,
                s.grace_until,
                s.access_until,
                s.cancelled_at,
                s.ended_at,
            )

    return csv_response(f"subscriptions-{f.view}-{_stamp()}.csv", SUBSCRIPTION_COLUMNS, rows())


MEMBER_COLUMNS = (
    "id",
    "email",
    "admin",
    "joined",
    "subscriptions",
    "with_access_now",
    "access_until",
)


@bp.route("/members.csv")
def members_csv() -> Response:
    """Every member (or those the members page's search finds), with their access now."""
    q = request.args.get("q", "").strip()[:254]
    at = now()
    s = Subscription
    per_member = (
        select(
            s.user_id.label("user_id"),
            func.count().label("subscriptions"),
            func.count(case((s.access_until > at, 1))).label("with_access"),
            func.max(s.access_until).label("access_until"),
        )
        .where(s.user_id.is_not(None))
        .group_by(s.user_id)
        .subquery()
    )
    stmt = (
        select(
            User.id,
            User.email,
            User.is_admin,
            User.created_at,
            func.coalesce(per_member.c.subscriptions, 0),
            func.coalesce(per_member.c.with_access, 0),
            per_member.c.access_until,
        )
        .outerjoin(per_member, per_member.c.user_id == User.id)
        .order_by(User.email)
    )
    if q:  # the same search as the members page
        stmt = stmt.where(email_prefix(q))

    def rows() -> Iterator[Sequence[object]]:
        yield from db.session.execute(stmt.execution_options(yield_per=BATCH))

    return csv_response(f"members-{_stamp()}.csv", MEMBER_COLUMNS, rows())


PAYMENT_COLUMNS = (
    "id",
    "txn_id",
    "paid_at",
    "status",
    "amount",
    "currency",
    "fee",
    "period_start",
    "period_end",
    "subscription_id",
    "paypal_id",
    "member",
    "plan",
)


@bp.route("/payments.csv")
def payments_csv() -> Response:
    """Every payment (or those the payments page's filters select), newest first."""
    try:
        status, q = parse_filters(request.args)
    except BadFilter as e:
        abort(400, description=str(e))
    p, s = Payment, Subscription
    stmt = (
        select(
            p.id,
            p.txn_id,
            p.paid_at,
            p.status,
            p.amount,
            p.currency,
            p.fee,
            p.period_start,
            p.period_end,
            p.subscription_id,
            s.paypal_id,
            User.email,
            Plan.code,
        )
        .join(s, s.id == p.subscription_id)
        .outerjoin(User, User.id == s.user_id)
        .outerjoin(Plan, Plan.id == s.plan_id)
        .order_by(p.paid_at.desc(), p.id.desc())
    )
    if status:  # the same filters as the payments page
        stmt = stmt.where(p.status == status)
    if q:
        stmt = stmt.where(p.id.in_(search_ids(q)))

    def rows() -> Iterator[Sequence[object]]:
        yield from db.session.execute(stmt.execution_options(yield_per=BATCH))

    return csv_response(f"payments-{_stamp()}.csv", PAYMENT_COLUMNS, rows())
