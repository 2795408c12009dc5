"""The admin's payments list names each payment's member and finds payments by the member's
e-mail (exact or prefix, any case), still keyset-paged, from indexes on PostgreSQL (#23)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from gateway import paging as keyset
from gateway.admin import payments as payment_views
from models import Payment, Subscription, db
from tests.web.test_admin_paging import PAYMENT_LINK, plan_nodes, scanned_indexes, walk

MEMBER_CELL = re.compile(rb'<td class="member"><a href="/admin/members/(\d+)">([^<]+)</a>')


@pytest.fixture
def ledger(app, db, clock, make_user, make_plan):
    """Three members (two sharing a prefix) and an unclaimed subscription; 19 payments,
    several at the same moment; page size 4, so a member's payments span pages."""
    app.config["ADMIN_PAGE_SIZE"] = 4
    now = clock.now()
    plan = make_plan("alpha")
    users = [make_user(e) for e in ("anna@example.com", "annabel@example.com", "bo@example.org")]
    subs = [
        Subscription(
            user_id=u.id if u else None,
            plan_id=plan.id,
            paypal_id=f"I-LEDGER{i:04d}",
            created_at=now,
            updated_at=now,
        )
        for i, u in enumerate([*users, None])
    ]
    db.session.add_all(subs)
    db.session.flush()
    pays = [
        Payment(
            subscription_id=subs[i % 4].id,
            txn_id=f"LG{i:05d}",
            status="Completed",
            amount=Decimal("9.00"),
            currency="USD",
            paid_at=now - timedelta(hours=i // 3),
            created_at=now,
        )
        for i in range(19)
    ]
    db.session.add_all(pays)
    db.session.commit()
    return users, subs, pays


def newest_first(pays, keep) -> list[int]:
    return [p.id for p in sorted(pays, key=lambda p: (p.paid_at, p.id), reverse=True) if keep(p)]


def test_each_payment_names_its_member(client, admin, login_as, ledger):
    """Does each row show its member's e-mail, linked to the member's page (unclaimed: none)?"""
    users, subs, pays = ledger
    login_as(admin)
    page = client.get("/admin/payments").data
    cells = MEMBER_CELL.findall(page)
    assert cells and all(
        (int(uid), email.decode()) in {(u.id, u.email) for u in users} for uid, email in cells
    )
    assert b"<th>Member</th>" in page
    unclaimed = client.get(f"/admin/payments?q={subs[3].paypal_id}").data
    assert b"<em>unclaimed</em>" in unclaimed and not MEMBER_CELL.findall(unclaimed)


@pytest.mark.parametrize(
    "q,emails",
    [
        ("anna@example.com", {"anna@example.com"}),  # exact: not annabel
        ("ANNA@Example.com", {"anna@example.com"}),  # any case
        ("anna", {"anna@example.com", "annabel@example.com"}),  # prefix
        ("bo@", {"bo@example.org"}),
        ("nobody@example.com", set()),
        ("an%", set()),  # LIKE wildcards are literal
    ],
)
@pytest.mark.parametrize("few", [payment_views.FEW_MEMBERS, 0], ids=["ids", "broad-walk"])
def test_search_by_member_walks_both_ways(
    client, admin, login_as, ledger, q, emails, monkeypatch, few
):
    """Does a member search find exactly their payments, newest first, forwards and back,
    whether it sorts the matches' ids or filters the newest-first walk (a broad prefix)?"""
    monkeypatch.setattr(payment_views, "FEW_MEMBERS", few)
    users, subs, pays = ledger
    login_as(admin)
    owners = {s.id for s in subs if s.user_id in {u.id for u in users if u.email in emails}}
    want = newest_first(pays, lambda p: p.subscription_id in owners)
    url = f"/admin/payments?q={q.replace('%', '%25')}"
    assert walk(client, url, PAYMENT_LINK) == want
    assert walk(client, url, PAYMENT_LINK, backwards=True) == want
    shown = {e.decode() for _, e in MEMBER_CELL.findall(client.get(url).data)}
    assert shown <= emails


def test_member_search_combines_with_status(client, admin, login_as, ledger, db):
    """Do the status filter and the member search narrow together, still paged in order?"""
    users, subs, pays = ledger
    for p in pays[::2]:
        p.status = "Refunded"
    db.session.commit()
    login_as(admin)
    want = newest_first(pays, lambda p: p.subscription_id == subs[0].id and p.status == "Refunded")
    assert walk(client, "/admin/payments?status=Refunded&q=anna@", PAYMENT_LINK) == want


@pytest.mark.postgres_only
@pytest.mark.parametrize("q", ["anna@example.com", "anna", "ANNA@EX"])
def test_member_search_reads_indexes(app, ledger, q):
    """On PostgreSQL, is the member search an index lookup: an e-mail index, then the
    subscriptions by user_id and the payments by subscription_id, never a table scan?"""
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = keyset.explain(payment_views.search_ids(q))["Plan"]
    assert "Seq Scan" not in plan_nodes(plan), plan_nodes(plan)
    used = scanned_indexes(plan)
    assert "ix_payments_subscription_id" in used, used
    # Either index led by user_id finds a member's subscriptions (the two are alike).
    assert used & {"ix_subscriptions_user_id_id", "ix_subscriptions_user_access"}, used
    assert used & {"uq_users_email", "ix_users_email_pattern"}, used  # both serve "="
    db.session.rollback()
