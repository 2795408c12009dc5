"""What an export is (`Table`: columns, filters, rows) and how its rows become CSV.

The admin's tables are defined beside their pages (gateway/admin/export_tables.py) and
handed to the app when the admin blueprint is registered (`register`), so the job finds
them with no import of the admin pages. Every text cell passes through `csv_safe`, so a
spreadsheet never runs a member's e-mail as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import current_app
from flask.sansio.app import App
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, scoped_session

#: What a spreadsheet may read as the start of a formula (OWASP's list).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Rows fetched per round trip (`yield_per`: a server-side cursor on PostgreSQL).
BATCH = 500

Filters = dict[str, str]
Row = Sequence[object]
#: The request's session, or one on the job's own connection.
Reader = Session | scoped_session[Any]


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


def csv_chunks(header: Sequence[str], rows: Iterable[Row], every: int = 200) -> Generator[str]:
    """The CSV text of `header` and `rows`, `every` rows at a time (rows read lazily)."""
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow([csv_safe(h) for h in header])
    for i, row in enumerate(rows, 1):
        out.writerow([csv_safe(v) for v in row])
        if i % every == 0:
            yield buf.getvalue()
            buf.seek(0), buf.truncate()
    yield buf.getvalue()


@dataclass(frozen=True)
class Table:
    kind: str
    title: str
    columns: tuple[str, ...]
    #: The page's query string -> the filters the export keeps (BadFilter if unknown).
    parse: Callable[[Mapping[str, str]], Filters]
    #: Every row of the export, sorted (unsorted for `count`).
    statement: Callable[[Filters, datetime, int], Select]
    #: The rows as written, read through `session` (its own connection, for the job).
    rows: Callable[[Reader, Filters, datetime, int], Iterator[Row]]
    #: The file name's middle part, e.g. "subscriptions-active".
    stem: Callable[[Filters], str]
    #: As many rows as `statement`, without what does not change the count (a join that
    #: keeps every row, the members' per-member totals); `statement` itself if None.
    counted: Callable[[Filters, datetime, int], Select] | None = None

    def _counted(self, f: Filters, at: datetime, lapsing: int) -> Select:
        return (self.counted or self.statement)(f, at, lapsing).order_by(None)

    def count_upto(self, session: Reader, f: Filters, at: datetime, lapsing: int, n: int) -> int:
        """How many rows the export has, counting no further than `n` (a bounded cost)."""
        inner = self._counted(f, at, lapsing).limit(n).subquery()
        return int(session.scalar(select(func.count()).select_from(inner)) or 0)

    def count(self, session: Reader, f: Filters, at: datetime, lapsing: int) -> int:
        inner = self._counted(f, at, lapsing).subquery()
        return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def register(app: App, tables: Mapping[str, Table]) -> None:
    """Make `tables` the app's exports (the admin blueprint does, when registered)."""
    app.extensions["export_tables"] = dict(tables)


def tables() -> Mapping[str, Table]:
    """The app's exports, by kind."""
    return current_app.extensions.get("export_tables", {})
