"""The PayPal messages list's search and type filter: exact ids, id prefixes (any case),
words in the outcome (any case), the same answers whether the search reads ids from the
indexes (few matches) or filters the newest-first walk (many), and the list of types."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from gateway.admin import message_search
from gateway.billing.rules.statuses import Channel, NotificationStatus
from models import Notification

MESSAGE = re.compile(rb'href="/admin/messages/(\d+)"')
TYPES = ("subscr_payment", "subscr_signup", "PAYMENT.SALE.COMPLETED", None)


@pytest.fixture
def inbox(app, db, clock):
    app.config["ADMIN_PAGE_SIZE"] = 100
    now = clock.now()
    notes = [
        Notification(
            channel=Channel.IPN,
            received_at=now - timedelta(minutes=i),
            body=b"n=%d" % i,
            headers={},
            status=NotificationStatus.PROCESSED,
            next_attempt_at=now,
            txn_type=TYPES[i % 4],
            txn_id=f"TX{i:04d}AB",
            subscr_id=f"I-SUB{i % 5}",
            outcome=("Payment recorded 100%" if i % 3 else "Amount does not match")
            + f" (note {i})",
        )
        for i in range(30)
    ]
    db.session.add_all(notes)
    db.session.commit()
    return {n.id: n for n in notes}


def listed(client, **args) -> set[int]:
    r = client.get("/admin/messages", query_string=args)
    assert r.status_code == 200, r.data[:300]
    return {int(i) for i in MESSAGE.findall(r.data)}


def expect(inbox, keep) -> set[int]:
    return {i for i, n in inbox.items() if keep(n)}


@pytest.mark.parametrize("few", [message_search.FEW, 0], ids=["from-indexes", "walk-filter"])
def test_search_by_id_prefix_and_words(client, admin, login_as, inbox, monkeypatch, few):
    """Does each kind of search find exactly its messages, in either query shape?"""
    monkeypatch.setattr(message_search, "FEW", few)
    login_as(admin)
    some = next(iter(inbox.values()))
    assert listed(client, q=some.txn_id) == {some.id}
    assert listed(client, q="I-SUB3") == expect(inbox, lambda n: n.subscr_id == "I-SUB3")
    assert listed(client, q="tx001") == expect(inbox, lambda n: n.txn_id.startswith("TX001"))
    assert listed(client, q="i-sub") == set(inbox)
    assert listed(client, q="DOES NOT match") == expect(
        inbox, lambda n: "does not" in n.outcome.lower()
    )
    assert listed(client, q="100%") == expect(inbox, lambda n: "100%" in n.outcome)
    assert listed(client, q="(note 2") == expect(inbox, lambda n: "(note 2" in n.outcome)
    assert listed(client, q="zzz_nothing") == set()
    assert listed(client, q="TX") == set()  # too short for a prefix, no exact id


def test_type_filter_and_the_list_of_types(client, admin, login_as, inbox):
    """Does the type list name every type once, and the filter keep only its type?"""
    login_as(admin)
    page = client.get("/admin/messages").data.decode()
    for kind in TYPES[:3]:
        assert page.count(f"<option >{kind}</option>") + page.count(f"<option>{kind}</option>") == 1
    assert message_search.known_types() == sorted(t for t in TYPES if t)
    assert listed(client, type="subscr_signup") == expect(
        inbox, lambda n: n.txn_type == "subscr_signup"
    )
    both = listed(client, type="subscr_payment", q="does not")
    assert both == expect(
        inbox, lambda n: n.txn_type == "subscr_payment" and "does not" in n.outcome.lower()
    )
