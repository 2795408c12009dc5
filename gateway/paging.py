"""The paginator of every admin table: keyset pages that cost the same on row 1 and row
1,000,000, and the query-string paging they read. There is no OFFSET paging: a log that
starts small (messages, flags, mail) grows as large as any other table.

A page continues from the last row shown (its sort value and id, signed into an opaque
cursor), never from an OFFSET. Ascending puts NULLs last and descending puts them first,
which is a plain btree on (column, id) read forwards or backwards. Each page is read in
up to three index-friendly pieces, none with an OR: the rows tied with the cursor's value
(`column = v AND id > i`), the rows past it (`column > v`), and the NULLs (`id > i`).

Counts are never a COUNT(*) over a table: an exact count up to `ADMIN_EXACT_COUNT_UP_TO`
rows (a count over a LIMITed subquery, reading at most that many), beyond that a bound
("more than 1,000"), never the planner's guess, which can be many times off.

With `rows_of` (the rows' statement without the filters), each piece reads its ids alone
(`SELECT id ... ORDER BY ... LIMIT n`), so PostgreSQL can walk a covering index without
visiting a row the filter rejects, then loads only the page's rows by id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import abort, current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import ColumnElement, CompoundSelect, Select, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement

from models import db

#: The exact count's cap when no app is configured (the ADMIN_EXACT_COUNT_UP_TO setting).
EXACT_UP_TO = 1_000
#: `?page=N` is read as N keyset steps from the start, so it is allowed only for small N.
MAX_PAGE = 10


#: A sortable expression: a Core column expression or a mapped attribute.
Expr = ColumnElement[Any] | InstrumentedAttribute[Any]


class BadCursor(ValueError):
    """A page link that was altered, truncated or made for another sort (answered 400)."""


@dataclass(frozen=True)
class SortKey:
    """One sortable column: its SQL expression, how to read it off a row, and its type.

    `null_when` (None for a NOT NULL column) says when the value is NULL, written on the
    listed table itself (`user_id IS NULL` rather than the joined `email IS NULL`), so the
    NULL piece can use that table's indexes. `present_when` says the opposite for the other
    pieces (by default NOT `null_when`); a key on an outer-joined table writes it on that
    table (`email IS NOT NULL`), which lets PostgreSQL make the join inner and walk the
    joined table's index in order (nested loop) instead of joining every row and sorting.
    """

    column: Expr
    value: Callable[[Any], Any]
    kind: type = str
    null_when: ColumnElement[bool] | None = None
    present_when: ColumnElement[bool] | None = None
    #: The listed table's column that is NULL in the NULL piece (by default `column`).
    null_column: Expr | None = None

    @property
    def present(self) -> ColumnElement[bool] | None:
        """The condition of the non-NULL pieces (None for a NOT NULL column)."""
        if self.null_when is None:
            return None
        return self.present_when if self.present_when is not None else ~self.null_when


@dataclass(frozen=True)
class Cursor:
    sort: str
    desc: bool
    value: Any
    id: int


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="admin-keyset")


def encode(c: Cursor) -> str:
    value = c.value.isoformat() if isinstance(c.value, datetime) else c.value
    return _serializer().dumps([c.sort, int(c.desc), value, c.id])


def decode(token: str, sort: str, desc: bool, key: SortKey) -> Cursor:
    """The cursor in `token`, checked: signed by us, for this sort, with well-typed values."""
    try:
        s, d, value, row_id = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError, json.JSONDecodeError) as e:
        raise BadCursor("This page link is damaged; start again from the first page.") from e
    if s != sort or bool(d) != desc:
        raise BadCursor("This page link belongs to another sort; start from the first page.")
    if not isinstance(row_id, int) or isinstance(row_id, bool):
        raise BadCursor("This page link is damaged; start again from the first page.")
    if value is not None:
        try:
            value = _typed(value, key.kind)
        except (TypeError, ValueError) as e:
            raise BadCursor("This page link is damaged; start again from the first page.") from e
    return Cursor(sort, desc, value, row_id)


def _typed(value: Any, kind: type) -> Any:
    if kind is datetime:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive datetime in cursor")
        return parsed
    if kind is int and not isinstance(value, bool) and isinstance(value, int):
        return value
    if kind is str and isinstance(value, str):
        return value
    raise TypeError(f"expected {kind.__name__}")


def fetch(
    stmt: Select,
    key: SortKey,
    row_id: Expr,
    desc: bool,
    after: Cursor | None,
    limit: int,
    rows_of: Select | None = None,
) -> list[Any]:
    """Up to `limit` rows of `stmt` in (key, id) order, strictly after `after`."""
    col = key.column
    id_order = row_id.desc() if desc else row_id.asc()
    by_value = [id_order] if col is row_id else [col.desc() if desc else col.asc(), id_order]

    def id_past(i: int) -> ColumnElement[bool]:
        return row_id < i if desc else row_id > i

    def value_past(v: Any) -> ColumnElement[bool]:
        return col < v if desc else col > v

    # (conditions, order) of each piece, in page order.
    nulls: list[tuple[list[Any], list[Any]]] = []
    if key.null_when is not None:
        # In id order, said as (NULL column, id): the (column, id) index's own order, so
        # PostgreSQL reads its NULL range rather than walk every id for the few NULL rows.
        nc = key.null_column if key.null_column is not None else col
        null_order = [nc.desc() if desc else nc.asc(), id_order]
        if after is not None and after.value is None:
            nulls = [([key.null_when, id_past(after.id)], null_order)]
        else:
            nulls = [([key.null_when], null_order)]
        values = [([key.present], by_value)]
    else:
        values = [([], by_value)]
    if after is not None and after.value is not None:
        values = [([value_past(after.value)], by_value)]
        if key.column is not row_id:  # sorted by the id itself, no two rows tie
            values.insert(0, ([col == after.value, id_past(after.id)], [id_order]))
    if desc:  # NULLs first: none are left once past them
        pieces = values if after is not None and after.value is not None else nulls + values
    else:  # NULLs last
        pieces = nulls if after is not None and after.value is None else values + nulls
    rows: list[Any] = []
    for where, order in pieces:
        if len(rows) >= limit:
            break
        piece = stmt.where(*where).order_by(*order).limit(limit - len(rows))
        if rows_of is not None:
            ids = piece.with_only_columns(row_id, maintain_column_froms=True).scalar_subquery()
            piece = rows_of.where(row_id.in_(ids)).order_by(*order)
        rows += db.session.scalars(piece)
    return rows


@dataclass
class KeysetPage:
    """One page of rows, the cursors for its neighbours, and how many rows match."""

    items: list[Any]
    next: str | None
    previous: str | None
    at_start: bool
    at_end: bool
    count: int
    exact: bool

    @property
    def count_label(self) -> str:
        """The exact count, or "more than N": a true lower bound, never a guess."""
        if self.exact:
            return f"{self.count:,}"
        return f"more than {self.count:,}"


def page(
    stmt: Select,
    sort: str,
    key: SortKey,
    row_id: Expr,
    desc: bool,
    *,
    size: int,
    after: str = "",
    before: str = "",
    last: bool = False,
    page_no: int = 1,
    rows_of: Select | None = None,
    count_of: Select | None = None,
    counted: bool = True,
) -> KeysetPage:
    """The page the query string asks for: first, `after`/`before` a cursor, last, or page N.

    Rows must have an `id`; `page_no` (at most MAX_PAGE) walks that many pages from the start.
    """

    def cursor_at(row: Any) -> Cursor:
        return Cursor(sort, desc, key.value(row), row.id)

    items: list[Any] = []
    at_start = at_end = False
    back: list[Any] = []
    if before:  # exactly the rows before the cursor, so a walk back meets each row once
        c = decode(before, sort, desc, key)
        back = fetch(stmt, key, row_id, not desc, _flip(c), size + 1, rows_of)
        items, at_start = back[:size][::-1], len(back) <= size
    elif last:
        back = fetch(stmt, key, row_id, not desc, None, size + 1, rows_of)
        items, at_start, at_end = back[:size][::-1], len(back) <= size, True
    if not back:  # the first page, page N, or the page after a cursor
        start = decode(after, sort, desc, key) if after else None
        skip = 0 if after else (page_no - 1) * size
        if skip:
            skipped = fetch(stmt, key, row_id, desc, None, skip, rows_of)
            start = cursor_at(skipped[-1]) if len(skipped) == skip else None
        rows = fetch(stmt, key, row_id, desc, start, size + 1, rows_of) if not skip or start else []
        items, at_start, at_end = rows[:size], start is None and not skip, len(rows) <= size
    if counted:
        count, exact = estimate(stmt if count_of is None else count_of)
    else:  # only what this page shows: all of them, or "more than" the rows seen
        count, exact = len(items), at_start and at_end
    return KeysetPage(
        items=items,
        next=encode(cursor_at(items[-1])) if items and not at_end else None,
        previous=encode(cursor_at(items[0])) if items and not at_start else None,
        at_start=at_start,
        at_end=at_end,
        count=count,
        exact=exact,
    )


def requested(
    stmt: Select,
    sort: str,
    key: SortKey,
    row_id: Expr,
    desc: bool,
    paging: Paging,
    *,
    rows_of: Select | None = None,
    count_of: Select | None = None,
    counted: bool = True,
) -> KeysetPage:
    """The page `paging` (the query string) asks for, ADMIN_PAGE_SIZE rows; a bad cursor
    is the client's mistake, answered 400. `count_of`: a cheaper statement matching the
    same rows, counted instead of `stmt`; `counted=False`: no count (a broad search whose
    count would cost more than its page), the label says "more than" the rows shown."""
    try:
        found = page(
            stmt,
            sort,
            key,
            row_id,
            desc,
            size=int(current_app.config["ADMIN_PAGE_SIZE"]),
            after=paging.after,
            before=paging.before,
            last=paging.last,
            page_no=paging.page,
            rows_of=rows_of,
            count_of=count_of,
            counted=counted,
        )
    except BadCursor as e:
        abort(400, description=str(e))
    return found


def _flip(c: Cursor) -> Cursor:
    return Cursor(c.sort, not c.desc, c.value, c.id)


def exact_up_to() -> int:
    """The exact count's cap: the ADMIN_EXACT_COUNT_UP_TO setting (tests set it small)."""
    return int(current_app.config.get("ADMIN_EXACT_COUNT_UP_TO", EXACT_UP_TO))


def estimate(stmt: Select) -> tuple[int, bool]:
    """How many rows `stmt` matches: (the count, True) up to the cap, else (the cap, False),
    read as "more than" the cap. The count reads at most cap + 1 rows (a LIMITed
    subquery of their ids alone, so joins nothing filters on can be dropped)."""
    cap = exact_up_to()
    bare = stmt.order_by(None).with_only_columns(literal(1), maintain_column_froms=True)
    bounded = select(func.count()).select_from(bare.limit(cap + 1).subquery())
    n = db.session.scalar(bounded) or 0
    if n > cap:
        return cap, False
    return n, True


def planner_rows(stmt: Select) -> int:
    """PostgreSQL's estimate of the rows `stmt` returns (EXPLAIN's top-level "Plan Rows")."""
    return int(explain(stmt)["Plan"]["Plan Rows"])


class Explain(Executable, ClauseElement):
    """`EXPLAIN (FORMAT JSON) <statement>`, PostgreSQL only, with the statement's own binds."""

    inherit_cache = False

    def __init__(self, statement: Select | CompoundSelect) -> None:
        self.statement = statement


@compiles(Explain, "postgresql")
def _explain_pg(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


def explain(stmt: Select | CompoundSelect) -> dict[str, Any]:
    """The planner's plan for `stmt` on PostgreSQL, as the dict EXPLAIN's JSON holds."""
    raw = db.session.execute(Explain(stmt)).scalar()
    plans: Sequence[dict[str, Any]] = json.loads(raw) if isinstance(raw, str) else (raw or [])
    return plans[0]


class BadFilter(ValueError):
    """A query-string value the admin tables do not accept (answered with 400)."""


@dataclass(frozen=True)
class Paging:
    """Where in a table the query string asks to be: a cursor, the last page, or page N."""

    after: str = ""
    before: str = ""
    last: bool = False
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Paging:
        return cls(
            after=args.get("after", "")[:1000],
            before=args.get("before", "")[:1000],
            last=args.get("last", "") == "1",
            page=parse_keyset_page(args.get("page", "1")),
        )


def parse_keyset_page(raw: str) -> int:
    """`?page=N` on a keyset table: small N only, never an OFFSET deep into a table."""
    if not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
        raise BadFilter("page must be a whole number from 1.")
    n = int(raw)
    if n > MAX_PAGE:
        raise BadFilter(
            f"page goes up to {MAX_PAGE}; for deeper pages follow the next, previous "
            "and last links."
        )
    return n


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
