"""Watching the SQL a piece of code sends."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, event


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
