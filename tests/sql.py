"""Watching the SQL a piece of code sends."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, event, text


@contextlib.contextmanager
def statements_sent(engine: Engine) -> Iterator[list[str]]:
    """Every statement `engine` sends inside the block, as sent (the listener goes after)."""
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def index_order_only(session: Any) -> None:
    """Forbid the planner sorts and scans for the rest of the transaction: a tiny test
    table is cheaper to sort than to read by index, so a Sort node then remains only where
    no index can give the order (incremental sorts too: with some statistics the planner
    joins plans first and sorts each plan's rows)."""
    for setting in (
        "enable_sort",
        "enable_incremental_sort",
        "enable_seqscan",
        "enable_bitmapscan",
    ):
        session.execute(text(f"SET LOCAL {setting} = off"))
