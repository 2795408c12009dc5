"""Group commit: the stores that arrive together in one process share one INSERT and its
commit.

A durable commit waits for the database to flush its log (about 0.1 ms on this kind of
disk, more on a network volume), and one INSERT per message is a round trip each. In a
threaded web worker (gunicorn's gthread) several of PayPal's POSTs are in flight at once;
here the first of them to arrive writes every row that is waiting, in one statement that
is its own transaction, and the others wait for that commit. Nothing is answered before
its own row is committed, so "stored before 200" holds exactly as with one row at a time.

No background thread: whoever finds no write in progress leads one, and hands over to
the first of those who queued meanwhile. A process that serves one request at a time
(gunicorn's sync workers) always writes groups of one, by the one-row path.

If a group's INSERT fails for another reason than a dead connection, each of its rows is
written again on its own, so a row the database refuses (the only one that can, by its
content) fails its own request and no one else's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

#: At most this many rows in one INSERT (well inside one statement of SQLAlchemy's
#: insertmanyvalues, so the group is one statement and one transaction).
MAX_GROUP = 64

Row = dict[str, Any]


class _Waiter:
    __slots__ = ("row", "id", "error", "leads", "done")

    def __init__(self, row: Row) -> None:
        self.row = row
        self.id: int | None = None
        self.error: BaseException | None = None
        self.leads = False
        self.done = threading.Event()

    def result(self) -> int:
        if self.error is not None:
            raise self.error
        if self.id is None:
            raise RuntimeError("not stored")
        return self.id


class GroupCommit:
    """`store(row)` -> the row's id once it is committed, for any number of threads.

    `write_one(row)` and `write_many(rows)` commit and return the id(s), in the order
    given; they raise what the database raised.
    """

    def __init__(
        self,
        write_one: Callable[[Row], int],
        write_many: Callable[[list[Row]], list[int]],
        max_group: int = MAX_GROUP,
    ) -> None:
        self.write_one = write_one
        self.write_many = write_many
        self.max_group = max_group
        self._lock = threading.Lock()
        self._queue: list[_Waiter] = []
        self._busy = False
        #: The most rows written in one group so far (whether groups form at all).
        self.largest = 0

    def store(self, row: Row) -> int:
        me = _Waiter(row)
        with self._lock:
            self._queue.append(me)
            leads = not self._busy
            self._busy = True
        if not leads:
            me.done.wait()
            if not me.leads:
                return me.result()
        self._lead()
        return me.result()

    def _lead(self) -> None:
        """Write what is queued (this thread's row first among it), wake its owners, and
        hand the lead to the first who queued meanwhile, or end it."""
        with self._lock:
            group, self._queue = self._queue[: self.max_group], self._queue[self.max_group :]
        try:
            self._write(group)
        finally:
            for waiter in group:
                if waiter.id is None and waiter.error is None:  # the write was interrupted
                    waiter.error = RuntimeError("the group's write was interrupted")
            with self._lock:
                following = self._queue[0] if self._queue else None
                if following is None:
                    self._busy = False
                else:
                    following.leads = True
            for waiter in group:
                waiter.done.set()
            if following is not None:
                following.done.set()

    def _write(self, group: list[_Waiter]) -> None:
        self.largest = max(self.largest, len(group))
        if len(group) == 1:
            _settle(group[0], partial(self.write_one, group[0].row))
            return
        try:
            ids = self.write_many([w.row for w in group])
        except Exception:  # each on its own: only a row the database refuses fails
            for waiter in group:
                _settle(waiter, partial(self.write_one, waiter.row))
            return
        except BaseException as e:  # the worker is being stopped: no one was stored
            for waiter in group:
                waiter.error = e
            raise
        for waiter, note_id in zip(group, ids, strict=True):
            waiter.id = note_id


def _settle(waiter: _Waiter, write: Callable[[], int]) -> None:
    try:
        waiter.id = write()
    except BaseException as e:
        waiter.error = e
        if not isinstance(e, Exception):
            raise
