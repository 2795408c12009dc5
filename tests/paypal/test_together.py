"""A batch applied together (pipeline/together.py) ends exactly where applying its messages
one by one ends, costs a handful of statements, and falls back whole when it must."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from gateway.billing.rules.facts import Fact, FactKind
from gateway.pipeline import together, worker
from gateway.subscriptions import service
from models import (
    Flag,
    Notification,
    OutboxMail,
    Payment,
    Plan,
    Subscription,
    SubscriptionFact,
    SubscriptionTerms,
)
from models import db as _db
from tests.inbox import process_due
from tests.paypal import ipn_builders as ipn
from tests.paypal.outcomes import wipe
from tests.sql import statements_sent

T = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)
#: Subscriptions with a member (their rows exist before the messages come) and one
#: that only PayPal's messages create.
MEMBERS = ("I-TOGETHER0001", "I-TOGETHER0002")
STRANGER = "I-TOGETHER0003"


@pytest.fixture
def world(ready, make_user, db):
    plan = db.session.scalar(select(Plan).where(Plan.code == "premium-monthly"))
    users = [make_user(f"m{i}@example.com") for i in range(len(MEMBERS))]
    return plan, users


def rows(db, clock, plan, refs, users=None) -> None:
    """Subscription rows as a checkout and its first message left them."""
    for i, ref in enumerate(refs):
        db.session.add(
            Subscription(
                user_id=users[i].id if users else None,
                plan_id=plan.id,
                paypal_id=ref,
                state="pending",
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
    db.session.commit()


def _members(db, clock, world) -> None:
    """The member subscriptions' rows."""
    plan, users = world
    rows(db, clock, plan, MEMBERS, users)


def story(draw, ref: str, k: int) -> list[bytes]:
    """One subscription's messages: payments, maybe a failure, money back, cancel, end."""
    n = draw(st.integers(1, 3))
    txns = [f"TX{k}{i:012d}" for i in range(n)]
    msgs = [ipn.payment(ref, t, T + timedelta(days=30 * i, minutes=1)) for i, t in enumerate(txns)]
    signup = draw(st.sampled_from(["none", "as offered", "tampered", "twice"]))
    if signup != "none":  # terms: judged and recorded, together or one by one
        msgs.insert(0, ipn.signup(ref, T))
    if signup == "tampered":  # a lower price than offered: flagged, nothing granted
        msgs[0] = msgs[0].replace(b"mc_amount3=9.00", b"mc_amount3=1.00")
    elif signup == "twice":  # the same signup at another time: a second terms row
        msgs.append(ipn.signup(ref, T + timedelta(hours=1)))
    end = T + timedelta(days=30 * n)
    if draw(st.booleans()):
        msgs.append(ipn.event(ref, "subscr_failed", end))
    victim = draw(st.sampled_from(txns))
    back = draw(st.sampled_from(["none", "refund", "partial", "reversal", "reversal+cancel"]))
    if back in ("refund", "partial"):
        gross = "-9.00" if back == "refund" else "-3.00"
        msgs.append(ipn.money_back(victim, f"RF{victim[2:]}", end, "Refunded", gross))
    elif back.startswith("reversal"):
        msgs.append(ipn.money_back(victim, f"RV{victim[2:]}", end, "Reversed", "-9.00"))
        if back == "reversal+cancel":
            later = end + timedelta(days=9)
            msgs.append(
                ipn.money_back(victim, f"CR{victim[2:]}", later, "Canceled_Reversal", "9.00")
            )
    if draw(st.booleans()):  # a wrong amount: flagged, and its subscription goes one by one
        bad = ipn.payment(ref, f"BAD{k}{n:011d}", end + timedelta(days=2))
        msgs.append(bad.replace(b"mc_gross=9.00", b"mc_gross=1.00"))
    if draw(st.booleans()):
        msgs.append(ipn.event(ref, "subscr_cancel", end + timedelta(days=1)))
    return msgs


@st.composite
def deliveries(draw):
    msgs = []
    for k, ref in enumerate((*MEMBERS, STRANGER)):
        msgs += story(draw, ref, k)
    msgs += [draw(st.sampled_from(msgs)) for _ in range(draw(st.integers(0, 4)))]  # repeats
    return draw(st.permutations(msgs))


def deliver(client, bodies) -> None:
    for b in bodies:
        r = client.post("/paypal/ipn", data=b, content_type="application/x-www-form-urlencoded")
        assert r.status_code == 200


def one_by_one(ids, known):
    """The reference: `apply.apply` for every message, each in its own transaction."""
    return dict.fromkeys(ids)


def state(db) -> dict:
    """Everything the messages decided, with row ids replaced by what they stand for."""
    db.session.expire_all()
    subs = {s.id: s for s in db.session.scalars(select(Subscription))}
    ref = {sub_id: s.paypal_id for sub_id, s in subs.items()}
    notes = db.session.scalars(select(Notification).order_by(Notification.id)).all()
    position = {n.id: i for i, n in enumerate(notes)}
    assert all(n.status in ("processed", "flagged") for n in notes), [
        (n.status, n.error) for n in notes
    ]
    columns = (
        *("state", "user_id", "plan_id", "started_at", "trial_until", "paid_through"),
        *("grace_until", "access_until", "cancelled_at", "ended_at"),
    )
    return {
        "subscriptions": sorted(
            (s.paypal_id, *(getattr(s, c) for c in columns)) for s in subs.values()
        ),
        "payments": sorted(
            (ref[p.subscription_id], p.txn_id, p.status, p.amount, p.currency, p.fee)
            + (p.paid_at, p.period_start, p.period_end)
            for p in db.session.scalars(select(Payment))
        ),
        "facts": sorted(
            (ref[f.subscription_id], f.kind, f.key, f.at, f.txn_id, f.amount, f.until, f.source)
            for f in db.session.scalars(select(SubscriptionFact))
        ),
        "flags": sorted(
            (f.kind, ref.get(f.subscription_id), position.get(f.notification_id))
            for f in db.session.scalars(select(Flag))
        ),
        "terms": sorted(
            (ref[t.subscription_id], t.source, t.effective_at, str(t.terms))
            for t in db.session.scalars(select(SubscriptionTerms))
        ),
        "mails": sorted(
            (re.sub(r"notice:\d+:", "notice:", m.key), m.to_addr)
            for m in db.session.scalars(select(OutboxMail))
        ),
        "messages": [
            (n.status, n.txn_type, n.txn_id, ref.get(n.subscription_id), _summary(n.outcome))
            for n in notes
        ],
    }


def _summary(outcome: str | None) -> str:
    """The outcome up to the subscription's dates (those depend on when a refund that came
    before its payment was woken, which differs between the two paths by design)."""
    return re.sub(r"\d+", "#", (outcome or "").split("; subscription")[0])


def drain() -> None:
    while process_due():
        pass


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(bodies=deliveries())
def test_a_batch_together_ends_where_one_by_one_ends(world, client, db, clock, monkeypatch, bodies):
    """Do shuffled stories of three subscriptions (repeats, refunds before payments, bad
    amounts, signups) reach the same rows, payments, facts, flags and mails together as
    one by one?"""
    wipe(db)
    _members(db, clock, world)
    deliver(client, bodies)
    with monkeypatch.context() as m:
        m.setattr(worker, "_apply_together", one_by_one)
        drain()
    expected = state(db)
    wipe(db)
    _members(db, clock, world)
    deliver(client, bodies)
    drain()
    assert state(db) == expected


def test_outcomes_and_notices_are_those_of_one_by_one(world, client, db, clock, monkeypatch):
    """Without refunds that wait, even the outcomes' dates and the mails' texts agree."""
    stories = []
    for k, ref in enumerate(MEMBERS):
        txns = [f"TXO{k}{i:011d}" for i in range(3)]
        stories += [ipn.payment(ref, t, T + timedelta(days=31 * i)) for i, t in enumerate(txns)]
        stories.append(ipn.event(ref, "subscr_failed", T + timedelta(days=93)))
        refund = ipn.money_back(
            txns[1], f"RFO{k:011d}", T + timedelta(days=94), "Refunded", "-9.00"
        )
        stories.append(refund)
        stories.append(ipn.payment(ref, txns[0], T))  # a repeat
    runs = []
    for path in (one_by_one, None):
        wipe(db)
        _members(db, clock, world)
        deliver(client, stories)
        with monkeypatch.context() as m:
            if path is not None:
                m.setattr(worker, "_apply_together", path)
            drain()
        db.session.expire_all()
        notes = db.session.scalars(select(Notification).order_by(Notification.id)).all()
        mails = db.session.scalars(select(OutboxMail).order_by(OutboxMail.key)).all()
        runs.append(
            (
                [re.sub(r"subscription \d+", "subscription #", n.outcome) for n in notes],
                [(m.subject, m.text_body, m.html_body) for m in mails],
            )
        )
    assert runs[0] == runs[1]
    # payments, failures, refunds, and each member's welcome
    assert len(runs[0][1]) == 2 * 3 + 2 * 1 + 2 * 1 + 2


def test_a_batch_of_renewals_costs_a_few_statements(world, client, db, clock):
    """Are 40 renewals of 40 subscriptions applied in a handful of statements, not 40 x 12?"""
    refs = [f"I-MANY{i:08d}" for i in range(40)]
    rows(db, clock, world[0], refs)
    deliver(client, [ipn.payment(ref, f"TXM{i:013d}", T) for i, ref in enumerate(refs)])
    with statements_sent(db.engine) as sent:
        assert process_due() == 40
    assert len(sent) <= 25, sent
    db.session.expire_all()
    subs = db.session.scalars(select(Subscription)).all()
    assert {s.access_until for s in subs} == {datetime(2026, 2, 10, 9, 30, tzinfo=UTC)}
    assert db.session.query(Payment).count() == 40


def test_a_failure_together_applies_every_message_one_by_one(world, client, db, clock, monkeypatch):
    """A batch whose joint transaction fails after writing (a deadlock, say): rolled back,
    and each of its messages applied one by one, none lost or applied twice."""
    _members(db, clock, world)
    deliver(client, [ipn.payment(ref, f"TXF{i:013d}", T) for i, ref in enumerate(MEMBERS)])
    real_write = together._write

    def write_then_fail(subs, now):
        real_write(subs, now)
        raise OperationalError("UPDATE ...", {}, Exception("deadlock detected"))

    monkeypatch.setattr(together, "_write", write_then_fail)
    assert process_due() == 2
    db.session.expire_all()
    notes = db.session.scalars(select(Notification)).all()
    assert [n.status for n in notes] == ["processed", "processed"]
    assert all("already applied" not in n.outcome for n in notes)
    assert db.session.query(Payment).count() == 2
    assert db.session.query(SubscriptionFact).count() == 2
    # one receipt and one welcome each, not two
    assert db.session.query(OutboxMail).count() == 2 * 2


def test_the_stored_facts_are_checked_against_what_was_read(world, db, clock):
    """Had another writer stored one of the batch's facts in spite of the locks, the insert
    would not match what was read: Mismatch (and the caller goes one by one)."""
    _members(db, clock, world)
    sub = db.session.scalar(select(Subscription).where(Subscription.paypal_id == MEMBERS[0]))
    fact = Fact(FactKind.CANCELLED, T, key="cancelled")
    service.record_fact(sub, fact, source="test", now=T)
    work = together._Sub(sub, [], set(), [], [])
    work.fact_rows.append(service.fact_row(sub.id, fact, source="ipn", now=T))
    with pytest.raises(together.Mismatch):
        together._write([work], T)
    db.session.rollback()


@pytest.mark.postgres_only
def test_four_workers_batches_over_shared_subscriptions_equal_one_by_one(
    world, client, db, clock, monkeypatch, ready
):
    """Four workers take interleaved batches whose messages share subscriptions (so their
    locks meet): the result is the one-by-one result, round after round."""
    refs = [f"I-SHARED{i:06d}" for i in range(6)]
    stories = []
    for k, ref in enumerate(refs):
        txns = [f"TXS{k}{i:011d}" for i in range(4)]
        stories.append(
            [ipn.payment(ref, t, T + timedelta(days=31 * i)) for i, t in enumerate(txns)]
            + [
                ipn.money_back(
                    txns[2], f"RFS{k:011d}", T + timedelta(days=95), "Refunded", "-9.00"
                ),
                ipn.event(ref, "subscr_cancel", T + timedelta(days=96)),
            ]
        )
    # Round-robin over subscriptions, so every batch of 3 spans several of them.
    bodies = [story[i] for i in range(6) for story in stories]

    wipe(db)
    rows(db, clock, world[0], refs)
    deliver(client, bodies)
    with monkeypatch.context() as m:
        m.setattr(worker, "_apply_together", one_by_one)
        drain()
    expected = state(db)
    for _ in range(5):
        wipe(db)
        rows(db, clock, world[0], refs)
        deliver(client, bodies)
        start, errors = threading.Barrier(4), list[Exception]()

        def work(start=start, errors=errors):
            with ready.app_context():
                try:
                    start.wait()
                    while process_due(limit=3):
                        pass
                except Exception as e:  # reported below
                    errors.append(e)
                finally:
                    _db.session.remove()

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        drain()  # refunds woken by a payment another worker committed
        assert state(db) == expected
