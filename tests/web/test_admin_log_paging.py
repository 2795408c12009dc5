"""The admin logs on keyset pages (PayPal messages, flags, the outbox, reconciliation's open
differences): every row once, newest first, both ways; the last page; bad page links 400;
no COUNT(*) of a table; and (PostgreSQL) each page piece read from an index, unsorted."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text

from gateway import paging as keyset
from gateway.admin import flags as flag_views
from gateway.admin import reconciliation as reconciliation_views
from gateway.billing.rules.statuses import Channel, NotificationStatus
from gateway.reconciliation.session import FLAG_KIND
from models import Flag, Notification, OutboxMail, db
from tests.sql import index_order_only, statements_sent

from .test_admin_paging import captured_statements, links, plan_nodes, scanned_indexes, walk

MESSAGE = re.compile(rb'href="/admin/messages/(\d+)"')
FLAG = re.compile(rb'<tr id="flag-(\d+)"')
DIFFERENCE = re.compile(rb'action="/admin/flags/(\d+)/resolve"')
MAIL = re.compile(rb"<tr><td>(\d+)</td>")


@pytest.fixture
def logs(app, db, clock, admin):
    """13 messages, 18 flags (ties in created_at, open and resolved, reconciliation's and
    others) and 9 mails; page size 4, so every walk crosses pages."""
    app.config["ADMIN_PAGE_SIZE"] = 4
    now = clock.now()
    db.session.add_all(
        Notification(
            channel=Channel.IPN,
            received_at=now - timedelta(minutes=i),
            body=b"txn_type=subscr_payment&n=%d" % i,
            headers={},
            status=NotificationStatus.FLAGGED if i % 3 == 0 else NotificationStatus.PROCESSED,
            next_attempt_at=now,
        )
        for i in range(13)
    )
    db.session.add_all(
        Flag(
            kind=FLAG_KIND if i % 2 == 0 else "unclaimed",
            message=f"flag {i}",
            created_at=now - timedelta(hours=i % 5),  # ties: ids break them
            resolved_at=now if i % 4 == 1 else None,
            resolved_by=admin.id if i % 4 == 1 else None,
            resolution="done" if i % 4 == 1 else None,
        )
        for i in range(18)
    )
    db.session.add_all(
        OutboxMail(
            key=f"mail-{i}",
            to_addr=f"m{i}@example.com",
            subject=f"Mail {i}",
            text_body="text",
            html_body="<p>html</p>",
            created_at=now,
            next_attempt_at=now,
        )
        for i in range(9)
    )
    db.session.commit()


def newest_first(model, keep=lambda row: True) -> list[int]:
    rows = [r for r in db.session.scalars(select(model)) if keep(r)]
    if model is Flag:
        return [f.id for f in sorted(rows, key=lambda f: (f.created_at, f.id), reverse=True)]
    return sorted((r.id for r in rows), reverse=True)


def is_open(f: Flag) -> bool:
    return f.resolved_at is None


TABLES = {
    "messages": ("/admin/messages", MESSAGE, Notification, lambda n: True),
    "messages-flagged": (
        "/admin/messages?status=flagged",
        MESSAGE,
        Notification,
        lambda n: n.status == "flagged",
    ),
    "flags-open": ("/admin/flags", FLAG, Flag, is_open),
    "flags-resolved": ("/admin/flags?state=resolved", FLAG, Flag, lambda f: not is_open(f)),
    "flags-all": ("/admin/flags?state=all", FLAG, Flag, lambda f: True),
    "outbox": ("/admin/outbox", MAIL, OutboxMail, lambda m: True),
    "reconciliation": (
        "/admin/reconciliation",
        DIFFERENCE,
        Flag,
        lambda f: is_open(f) and f.kind == FLAG_KIND,
    ),
}


@pytest.mark.parametrize("table", list(TABLES))
def test_pages_walk_every_row_once_newest_first(client, admin, login_as, logs, table):
    """Do next links from the first page, and previous links from the last, visit each row
    of the table once, newest first?"""
    url, pattern, model, keep = TABLES[table]
    login_as(admin)
    want = newest_first(model, keep)
    assert len(want) > 4  # more than a page
    assert walk(client, url, pattern) == want
    assert walk(client, url, pattern, backwards=True) == want
    first = client.get(url).data
    assert set(links(first)) == {"next", "last"}
    last = client.get(links(first)["last"])
    assert last.status_code == 200
    assert [int(i) for i in pattern.findall(last.data)] == want[-4:]
    assert set(links(last.data)) == {"first", "prev"}


def test_counts_are_bounded_and_labelled(client, admin, login_as, logs):
    """Do the messages and reconciliation pages count exactly when small, say "more than N"
    beyond the bound, and send no COUNT(*) without a LIMIT?"""
    login_as(admin)
    with statements_sent(db.engine) as sent:
        messages = client.get("/admin/messages").data
        differences = client.get("/admin/reconciliation").data.decode()
        for url in ("/admin/flags?state=all", "/admin/outbox", "/admin/messages?status=flagged"):
            assert client.get(url).status_code == 200
    counts = [s.lower() for s in sent if "count(" in s.lower()]
    assert counts and all("limit" in s for s in counts), counts
    if db.engine.dialect.name == "postgresql":  # SQLite spells every LIMIT "LIMIT ? OFFSET ?"
        assert not any("offset" in s.lower() for s in sent)
    assert b'data-count="exact"' in messages and b"13 messages" in messages
    assert "Open differences (9)" in differences
    client.application.config["ADMIN_EXACT_COUNT_UP_TO"] = 3
    capped = client.get("/admin/messages").data
    assert b'data-count="bound"' in capped and b"more than 3 messages" in capped
    assert "Open differences (more than 3)" in client.get("/admin/reconciliation").data.decode()


@pytest.mark.parametrize("table", ["messages", "flags-all", "outbox", "reconciliation"])
def test_bad_page_links_are_400(app, client, admin, login_as, logs, table):
    """Is a damaged, foreign or mistyped cursor, or a deep ?page=N, a 400, never a 500?"""
    url, *_ = TABLES[table]
    login_as(admin)
    token = re.search(r"after=([^&]+)", links(client.get(url).data)["next"])
    assert token is not None
    good = token.group(1)
    with app.test_request_context():
        foreign = keyset.encode(keyset.Cursor("paid_at", True, None, 1))  # another table's
        mistyped = keyset.encode(
            keyset.Cursor(
                "id" if table in ("messages", "outbox") else "created", True, "not a value", 1
            )
        )
    joiner = "&" if "?" in url else "?"
    for bad in (
        f"after={good[:-2]}{'A' if good[-2] != 'A' else 'B'}{good[-1]}",
        f"before=x{good}",
        "after=%ff%fe",
        f"after={foreign}",
        f"before={mistyped}",
    ):
        r = client.get(f"{url}{joiner}{bad}")
        assert r.status_code == 400 and b"page link" in r.data, bad
    assert client.get(f"{url}{joiner}page=11").status_code == 400
    assert client.get(f"{url}{joiner}page=2").status_code == 200


#: Each table's statement (the view's own, unfiltered where the view builds it inline), its
#: sort key and the indexes its pieces may read.
PLANS = {
    "messages": (lambda: select(Notification), "messages", {"pk_notifications"}),
    "outbox": (lambda: select(OutboxMail), "outbox", {"pk_outbox"}),
    "flags-open": (lambda: flag_views.listed("open"), "flags", {"ix_flags_open"}),
    "flags-resolved": (
        lambda: flag_views.listed("resolved"),
        "flags",
        {"ix_flags_created_at_id"},
    ),
    "flags-all": (lambda: flag_views.listed("all"), "flags", {"ix_flags_created_at_id"}),
    "reconciliation": (reconciliation_views.open_differences, "flags", {"ix_flags_open"}),
}


@pytest.mark.postgres_only
@pytest.mark.parametrize("table", list(PLANS))
def test_pages_read_an_index_in_order(app, logs, clock, monkeypatch, table):
    """On PostgreSQL, is each piece of a page (first, and after a cursor) read from the
    table's index in order, with no Sort of the rows? 3,000 resolved flags older than the
    rest: the open tabs must not walk past them."""
    from gateway.admin import messages, outbox

    old = clock.now() - timedelta(days=30)
    resolved = {"kind": FLAG_KIND, "message": "old", "resolved_at": old}
    db.session.execute(
        insert(Flag), [resolved | {"created_at": old - timedelta(minutes=i)} for i in range(3000)]
    )
    db.session.commit()
    db.session.execute(text("ANALYZE flags"))

    build, keyed, indexes = PLANS[table]
    key, row_id = {
        "messages": (messages.BY_ID, Notification.id),
        "outbox": (outbox.BY_ID, OutboxMail.id),
        "flags": (flag_views.CREATED, Flag.id),
    }[keyed]
    stmt = build()

    def pages() -> None:
        rows = keyset.fetch(stmt, key, row_id, True, None, 3)
        after = keyset.Cursor("x", True, key.value(rows[1]), rows[1].id)
        keyset.fetch(stmt, key, row_id, True, after, 50)

    captured = captured_statements(monkeypatch, pages)
    index_order_only(db.session)
    for i, statement in enumerate(captured):
        plan = keyset.explain(statement)["Plan"]
        nodes = plan_nodes(plan)
        assert "Sort" not in nodes and "Incremental Sort" not in nodes, (table, nodes)
        assert any("Index" in n for n in nodes), (table, nodes)
        if i == 0:  # the first page: the tab's own index (a tie piece may take the key)
            assert scanned_indexes(plan) & indexes, (table, scanned_indexes(plan))
    db.session.rollback()
