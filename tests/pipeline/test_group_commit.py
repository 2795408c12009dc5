"""Group commit (gateway/pipeline/group_commit.py): stores that arrive together share one
INSERT and its commit; each is answered only once its own row is committed, with its own
id; a row the database refuses fails its own store and no one else's."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select

from gateway.billing.rules.statuses import Channel
from gateway.database import autocommit_engine
from gateway.pipeline import intake
from gateway.pipeline.group_commit import GroupCommit
from models import Notification

WAIT = 10.0  # seconds a test waits for its threads before it fails (never slept on)


def _until(condition, what: str) -> None:
    done = threading.Event()
    for _ in range(int(WAIT / 0.005)):
        if condition():
            return
        done.wait(0.005)
    raise AssertionError(f"timed out waiting for {what}")


class Recorder:
    """write_one / write_many that record their calls; ids are 1000 + the row's n. The
    first write can be held until released, so that others queue behind it."""

    def __init__(self, hold_first: bool = False, refuse=lambda row: False) -> None:
        self.ones: list[Any] = []
        self.manys: list[list[Any]] = []
        self.release = threading.Event()
        self.holding = threading.Event()
        self.hold_first = hold_first
        self.refuse = refuse

    def _maybe_hold(self) -> None:
        if self.hold_first:
            self.hold_first = False
            self.holding.set()
            assert self.release.wait(WAIT)

    def one(self, row: dict) -> int:
        self._maybe_hold()
        self.ones.append(row["n"])
        if self.refuse(row):
            raise ValueError(f"refused {row['n']}")
        return 1000 + row["n"]

    def many(self, rows: list[dict]) -> list[int]:
        self._maybe_hold()
        self.manys.append([r["n"] for r in rows])
        if any(self.refuse(r) for r in rows):
            raise ValueError("a row was refused")
        return [1000 + r["n"] for r in rows]


def _store_all(group: GroupCommit, rec: Recorder, n: int) -> dict[int, Any]:
    """Row 0 leads and is held; rows 1..n-1 queue behind it; then all are released."""
    results: dict[int, Any] = {}

    def store(i: int) -> None:
        try:
            results[i] = group.store({"n": i})
        except BaseException as e:
            results[i] = e

    first = threading.Thread(target=store, args=(0,))
    first.start()
    others = [threading.Thread(target=store, args=(i,)) for i in range(1, n)]
    try:
        assert rec.holding.wait(WAIT)
        for t in others:
            t.start()
        _until(lambda: len(group._queue) == n - 1, "the stores to queue")
    finally:  # the held store, and those behind it, end even when the test fails
        rec.release.set()
        for t in [first, *others]:
            if t.ident is not None:
                t.join(WAIT)
                assert not t.is_alive()
    return results


def test_stores_arriving_together_share_one_write_each_with_its_own_id():
    rec = Recorder(hold_first=True)
    group = GroupCommit(rec.one, rec.many)
    results = _store_all(group, rec, 8)
    assert results == {i: 1000 + i for i in range(8)}
    assert rec.ones == [0]  # the first was alone
    assert rec.manys == [[1, 2, 3, 4, 5, 6, 7]]  # the rest in one write, in arrival order
    assert group.largest == 7
    # The group is free again: the next store, alone, takes the one-row path.
    assert group.store({"n": 9}) == 1009 and rec.ones == [0, 9]


def test_alone_every_store_takes_the_one_row_path():
    rec = Recorder()
    group = GroupCommit(rec.one, rec.many)
    assert [group.store({"n": i}) for i in range(5)] == [1000, 1001, 1002, 1003, 1004]
    assert rec.manys == [] and group.largest == 1


def test_a_group_is_never_larger_than_its_limit():
    rec = Recorder(hold_first=True)
    group = GroupCommit(rec.one, rec.many, max_group=3)
    results = _store_all(group, rec, 8)
    assert results == {i: 1000 + i for i in range(8)}
    assert rec.manys == [[1, 2, 3], [4, 5, 6]] and rec.ones == [0, 7]


def test_a_refused_row_fails_its_own_store_and_no_one_elses():
    rec = Recorder(hold_first=True, refuse=lambda row: row["n"] == 4)
    group = GroupCommit(rec.one, rec.many)
    results = _store_all(group, rec, 8)
    assert isinstance(results[4], ValueError)
    assert {i: r for i, r in results.items() if i != 4} == {i: 1000 + i for i in range(8) if i != 4}
    assert rec.manys == [[1, 2, 3, 4, 5, 6, 7]]  # tried together, then one by one
    assert rec.ones == [0, 1, 2, 3, 4, 5, 6, 7]


def test_a_database_down_fails_every_store_and_the_group_recovers():
    down = {"now": True}
    rec = Recorder(hold_first=True, refuse=lambda row: down["now"])
    group = GroupCommit(rec.one, rec.many)
    results = _store_all(group, rec, 5)
    assert all(isinstance(r, ValueError) for r in results.values())  # no id without a row
    down["now"] = False
    assert group.store({"n": 7}) == 1007


def test_a_write_interrupted_by_the_worker_stopping_answers_no_one_stored():
    """SystemExit (gunicorn stopping a worker) inside a group's write: the others are woken
    with an error, never left waiting, never told they were stored."""
    rec = Recorder(hold_first=True)

    def stopped(rows):
        raise SystemExit(1)

    group = GroupCommit(rec.one, stopped)
    results = _store_all(group, rec, 4)
    assert results[0] == 1000
    assert all(isinstance(results[i], BaseException) for i in (1, 2, 3))
    assert not any(isinstance(results[i], int) for i in (1, 2, 3))


@pytest.mark.parametrize("threads", [8])
def test_real_rows_stored_together_each_get_their_own_id(app, db, clock, monkeypatch, threads):
    """On the database itself (SQLite and PostgreSQL): a group of concurrent stores is one
    INSERT, and every store's id is the row holding its own bytes."""
    release = threading.Event()
    real = intake._autocommit
    holding = threading.Event()

    def held_first(engine, row):
        if not holding.is_set():
            holding.set()
            assert release.wait(WAIT)
        return real(engine, row)

    monkeypatch.setattr(intake, "_autocommit", held_first)
    with app.app_context():
        group = intake._group(autocommit_engine())
    got: dict[bytes, Any] = {}

    def store(body: bytes) -> None:
        with app.app_context():
            try:
                got[body] = intake.receive(
                    Channel.IPN, body, {"Host": "t", "X-Note": "café ✓"}, "127.0.0.1", clock.now()
                )
            except BaseException as e:
                got[body] = e

    bodies = [f"txn_id=GROUP-{i}".encode() for i in range(threads)]
    first = threading.Thread(target=store, args=(bodies[0],))
    first.start()
    rest = [threading.Thread(target=store, args=(b,)) for b in bodies[1:]]
    try:
        assert holding.wait(WAIT)
        for t in rest:
            t.start()
        _until(lambda: len(group._queue) == threads - 1, "the stores to queue")
    finally:  # the held store, and those behind it, end even when the test fails
        release.set()
        for t in [first, *rest]:
            if t.ident is not None:
                t.join(WAIT)
    assert group.largest == threads - 1
    assert all(isinstance(v, int) for v in got.values()), got
    rows = db.session.scalars(select(Notification)).all()
    assert {bytes(n.body): n.id for n in rows} == got
    for n in rows:  # every column as the one-row path stores it
        assert n.headers == {"Host": "t", "X-Note": "café ✓"} and n.remote_addr == "127.0.0.1"
        assert n.received_at == n.next_attempt_at == clock.now()
        assert n.status.value == "pending" and n.attempts == 0 and n.event_id is None
        assert n.channel.value == "ipn"


def test_concurrent_posts_over_http_each_stored_once_before_200(app, db):
    """PayPal's POSTs arriving at once on a threaded server (as under gunicorn's gthread):
    every 200 is a stored row with its exact bytes, each message once."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    from tests.servers import serve

    bodies = [f"txn_type=subscr_payment&txn_id=HTTP-{i}&n={i}".encode() for i in range(120)]
    with serve(app) as base, ThreadPoolExecutor(16) as pool:

        def post(body: bytes) -> int:
            return requests.post(
                f"{base}/paypal/ipn",
                data=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=WAIT,
            ).status_code

        statuses = list(pool.map(post, bodies))
    assert statuses == [200] * len(bodies)
    stored = sorted(bytes(b) for b in db.session.scalars(select(Notification.body)).all())
    assert stored == sorted(bodies)


def _columns(n: Notification) -> tuple[Any, ...]:
    return (
        n.channel,
        bytes(n.body),
        n.headers,
        n.remote_addr,
        n.received_at,
        n.status,
        n.attempts,
        n.next_attempt_at,
        n.event_id,
    )


def test_a_group_insert_stores_each_row_exactly_as_the_one_row_path(app, db, clock):
    """The group's INSERT (on PostgreSQL one array per column, sent in binary) against the
    one-row INSERT, column for column, for rows whose bytes and text are what an array's
    text form has to escape (quotes, backslashes, braces, commas, NUL, NULL-looking text),
    empty and missing values mixed with present ones, and both channels; each id returned
    is the id of its own row, in the order given."""
    awkward = [
        b"",
        b"\x00\xff\\\"{},NULL'",
        "txn_id=1&first_name=Jos\xe9".encode("latin-1"),
        b"NULL",
        bytes(range(256)),
    ]
    rows = []
    for i in range(40):
        rows.append(
            intake._row(
                Channel.WEBHOOK if i % 3 == 0 else Channel.IPN,
                awkward[i % len(awkward)] + str(i).encode(),
                {"Host": "t", "X-Odd": '"{a,b}" \\ NULL ✓', f"X-{i}": str(i)} if i % 2 else {},
                None if i % 4 == 0 else ("" if i % 4 == 1 else f"10.0.0.{i}"),
                clock.now(),
                None if i % 2 else f'WH-{i}-"{{x}}"',
            )
        )
    with app.app_context():
        engine = autocommit_engine()
        ids = intake._insert_many(engine, rows)
        one_by_one = [intake._autocommit(engine, row) for row in rows]
    assert len(ids) == len(set(ids)) == len(rows)
    stored = {n.id: _columns(n) for n in db.session.scalars(select(Notification)).all()}
    for i, (grouped, alone) in enumerate(zip(ids, one_by_one, strict=True)):
        assert stored[grouped] == stored[alone], i
        assert stored[grouped][1] == rows[i]["body"]
        assert stored[grouped][8] == rows[i]["event_id"]
