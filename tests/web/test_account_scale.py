"""A member's own /account with many subscriptions and payments: the number of queries
does not grow with the rows (each row's reason, terms and REST check are read for all rows
at once), and the page lists the latest payments with a link to every one."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from gateway.billing import Fact
from gateway.billing import FactKind as K
from gateway.member.routes import RECENT_PAYMENTS
from models import Payment
from tests.sql import statements_sent

RECEIPT = re.compile(rb'href="/account/receipts/(\d+)"')


def subscribe(db, clock, make_subscription, member, plan, n: int, payments_each: int) -> None:
    t = clock.now() - timedelta(days=20)
    for i in range(n):
        txn = f"T{member.id}-{i}"
        facts = [Fact(K.PAYMENT_COMPLETED, t, key=txn, txn_id=txn, amount=Decimal("9.00"))]
        if i % 3 == 1:  # some refunded, so each row's reason reads a money-back fact
            facts.append(
                Fact(
                    K.REFUNDED,
                    t + timedelta(days=1),
                    key=f"r{i}",
                    txn_id=txn,
                    amount=Decimal("-9.00"),
                )
            )
        sub = make_subscription(member, plan, facts, paypal_id=f"I-ACC{member.id}X{i}")
        for j in range(payments_each):
            db.session.add(
                Payment(
                    subscription_id=sub.id,
                    txn_id=f"P{sub.id}-{j}",
                    status="Completed",
                    amount=Decimal("9.00"),
                    currency="USD",
                    paid_at=t - timedelta(days=30 * j),
                    created_at=t,
                )
            )
    db.session.commit()


def queries_for_account(client) -> tuple[list[str], bytes]:
    from models import db

    with statements_sent(db.engine) as sent:
        r = client.get("/account")
    assert r.status_code == 200
    # The session's own look-up of the member is not the page's (a warm identity map skips it).
    return [s for s in sent if not s.startswith("SELECT users.")], r.data


def test_account_queries_do_not_grow_with_subscriptions(
    app, db, clock, make_user, make_plan, make_subscription, login_as, new_client
):
    """Do 12 subscriptions cost the same number of queries as 3?"""
    plan = make_plan("monthly")
    few, many = make_user("few@example.com"), make_user("many@example.com")
    subscribe(db, clock, make_subscription, few, plan, 3, 1)
    subscribe(db, clock, make_subscription, many, plan, 12, 1)
    client_few, client_many = login_as(few, new_client()), login_as(many, new_client())
    client_few.get("/account"), client_many.get("/account")  # roles computed on first visit
    # Each side's fewest of two visits: a process-wide check that runs once per interval of
    # real time (the rule table's version, the member copy's expiry) may fall in either.
    (n_few, page_few), again_few = queries_for_account(client_few), queries_for_account(client_few)
    (n_many, page_many), again_many = (
        queries_for_account(client_many),
        queries_for_account(client_many),
    )
    n_few = min(n_few, again_few[0], key=len)
    n_many = min(n_many, again_many[0], key=len)
    assert len(n_many) == len(n_few) < 20, (n_few, n_many)
    assert page_many.count(b"Refunded 9.00 USD") == 4 and page_few.count(b"Refunded 9.00 USD") == 1


def test_account_lists_the_latest_payments_and_links_to_all(
    app, db, clock, make_user, make_plan, make_subscription, login_as
):
    """Are the latest RECENT_PAYMENTS payments listed, newest first, with a link to all?"""
    member = make_user("payer@example.com")
    subscribe(db, clock, make_subscription, member, make_plan("monthly"), 2, 20)
    client = login_as(member)
    every = sorted(
        db.session.scalars(db.select(Payment)), key=lambda p: (p.paid_at, p.id), reverse=True
    )
    shown = [int(i) for i in RECEIPT.findall(client.get("/account").data)]
    assert shown == [p.id for p in every[:RECENT_PAYMENTS]]
    page = client.get("/account").data
    assert b'href="/account?payments=all#payments"' in page
    assert [int(i) for i in RECEIPT.findall(client.get("/account?payments=all").data)] == [
        p.id for p in every
    ]
