"""A launch backlog (new subscriptions, each claimed through its checkout token) applied in
batches ends where the same messages applied one by one end (pipeline/openings.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from gateway.checkout.journal import open_checkout
from gateway.pipeline import worker
from models import Checkout, Notification, Payment, Plan, Receipt, SeatHold, Subscription, User
from tests.inbox import process_due
from tests.paypal import ipn_builders as ipn
from tests.paypal.outcomes import wipe
from tests.paypal.test_together import T, deliver, drain, one_by_one, state
from tests.sql import statements_sent

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")

MEMBERS = 5
#: How a new subscription's messages may come: both kinds of order, and what sends it
#: (or its whole batch) to the one-by-one path.
KINDS = ("usual", "reversed", "tampered", "shared token", "no token", "refunded", "seat plan")


@pytest.fixture
def launch_world(ready, make_user, make_plan, db):
    make_plan("limited-monthly", role="premium", seat_limit=1)
    return [make_user(f"launch{i}@example.com") for i in range(MEMBERS)]


def claimed(body: bytes, token: str) -> bytes:
    return body.replace(b"custom=&", b"custom=" + token.encode() + b"&")


def launch(draw, tokens: list[str]) -> list[bytes]:
    """Each member's new subscription: a signup and a first payment, maybe more."""
    msgs = []
    for k, token in enumerate(tokens):
        kind = draw(st.sampled_from(KINDS))
        ref, txn = f"I-LAUNCH{k:06d}", f"TXL{k:013d}"
        if kind == "shared token":  # the previous member's token: one claim wins
            token = tokens[k - 1]
        if kind == "no token":
            token = ""
        signup = claimed(ipn.signup(ref, T), token) if token else ipn.signup(ref, T)
        pay = ipn.payment(ref, txn, T + timedelta(minutes=1))
        pay = claimed(pay, token) if token else pay
        if kind == "tampered":  # a lower price than offered: flagged, nothing granted by it
            signup = signup.replace(b"mc_amount3=9.00", b"mc_amount3=1.00")
        if kind == "seat plan":
            signup = signup.replace(b"premium-monthly", b"limited-monthly")
            pay = pay.replace(b"premium-monthly", b"limited-monthly")
        pair = [pay, signup] if kind == "reversed" else [signup, pay]
        msgs += pair
        if kind == "refunded":
            msgs.append(
                ipn.money_back(txn, f"RFL{k:013d}", T + timedelta(days=2), "Refunded", "-9.00")
            )
    return msgs


def open_checkouts(db, clock, users) -> list[str]:
    """Each member clicks Subscribe: the premium plan, or the limited one for the last."""
    plans = {p.code: p for p in db.session.scalars(select(Plan))}
    tokens = [open_checkout(u, plans["premium-monthly"], clock.now()).token for u in users[:-1]]
    tokens.append(open_checkout(users[-1], plans["limited-monthly"], clock.now()).token)
    db.session.commit()
    return tokens


def versions(db) -> dict[str, int]:
    return {u.email: u.access_version for u in db.session.scalars(select(User))}


def everything(db, clock, before: dict[str, int]) -> dict:
    """`test_together.state`, and what a launch decides besides: checkouts' claims and
    problems, seats, each member's roles now and whether their sessions were told to
    recompute them (how often differs: a batch tells once), receipts (gapless, one per
    paid payment)."""
    found = state(db)
    # A message PayPal sent twice: which copy applied and which found it "already applied"
    # depends on when a waiting copy was woken, by design; how many of each is what counts.
    found["messages"] = sorted(found["messages"], key=repr)
    subs = db.session.scalars(select(Subscription)).all()
    ref = {s.id: s.paypal_id for s in subs}
    roles: dict[int | None, set[str]] = {}
    for s in subs:
        if s.access_until is not None and s.access_until > clock.now() and s.plan is not None:
            roles.setdefault(s.user_id, set()).update(r.name for r in s.plan.roles)
    found["checkouts"] = sorted(
        (c.user_id, c.status, ref.get(c.subscription_id), c.problem)
        for c in db.session.scalars(select(Checkout))
    )
    found["seats"] = sorted(
        (s.plan_id, s.seat_no, ref.get(s.subscription_id), s.held_until is None)
        for s in db.session.scalars(select(SeatHold))
    )
    found["members"] = sorted(
        (u.email, u.access_version > before[u.email], sorted(roles.get(u.id, ())))
        for u in db.session.scalars(select(User))
    )
    receipts = db.session.execute(
        select(Payment.txn_id, Receipt.seq).join(Receipt, Receipt.payment_id == Payment.id)
    ).all()
    assert sorted(seq for _, seq in receipts) == list(range(1, len(receipts) + 1))  # gapless
    found["receipts"] = sorted(txn for txn, _ in receipts)
    return found


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), batch=st.integers(2, 40))
def test_a_launch_in_batches_ends_where_one_by_one_ends(
    launch_world, client, db, clock, monkeypatch, data, batch
):
    """Do new subscriptions claimed through checkout tokens (either order, tampered terms,
    a token two subscriptions name, none, a refund, a seat-limited plan), shuffled and
    with repeats, reach the same subscriptions, payments, facts, flags, mails, checkouts,
    seats, members' versions and receipts in batches as one by one?"""
    runs, bodies, old = [], list[bytes](), list[str]()
    for path in (one_by_one, None):
        wipe(db)
        tokens = open_checkouts(db, clock, launch_world)
        if not bodies:
            msgs = launch(data.draw, tokens)
            msgs += [data.draw(st.sampled_from(msgs)) for _ in range(data.draw(st.integers(0, 3)))]
            bodies = data.draw(st.permutations(msgs))
        else:  # the same members, new tokens: the same messages, claiming them
            bodies = [_retoken(b, old, tokens) for b in bodies]
        old, before = tokens, versions(db)
        deliver(client, bodies)
        with monkeypatch.context() as m:
            if path is not None:
                m.setattr(worker, "_apply_together", path)
            while process_due(limit=batch):
                pass
        drain()  # refunds woken by their payment
        runs.append(everything(db, clock, before))
    assert runs[1] == runs[0]


def _retoken(body: bytes, old: list[str], new: list[str]) -> bytes:
    for a, b in zip(old, new, strict=True):
        body = body.replace(b"custom=" + a.encode() + b"&", b"custom=" + b.encode() + b"&")
    return body


def test_a_launch_batch_costs_a_few_statements(launch_world, make_user, client, db, clock):
    """Are 20 new subscriptions (signup and first payment each, half reversed) opened and
    applied in a handful of statements, not 40 x 20, each claiming its checkout?"""
    plan = db.session.scalar(select(Plan).where(Plan.code == "premium-monthly"))
    users = [make_user(f"many{i}@example.com") for i in range(20)]
    tokens = [open_checkout(u, plan, clock.now()).token for u in users]
    db.session.commit()
    bodies: list[bytes] = []
    for k, token in enumerate(tokens):
        ref = f"I-MANYNEW{k:06d}"
        pair = [
            claimed(ipn.signup(ref, T), token),
            claimed(ipn.payment(ref, f"TXN{k:013d}", T + timedelta(minutes=1)), token),
        ]
        bodies += reversed(pair) if k % 2 else pair
    deliver(client, bodies)
    with statements_sent(db.engine) as sent:
        assert process_due() == 40
    assert len(sent) <= 40, sent
    db.session.expire_all()
    assert all(n.status == "processed" for n in db.session.scalars(select(Notification)))
    subs = db.session.scalars(select(Subscription)).all()
    assert sorted(s.user_id for s in subs) == sorted(u.id for u in users)
    assert len({s.access_until for s in subs}) == 1 and subs[0].access_until > T
    assert db.session.query(Receipt).count() == 20
    assert all(c.subscription_id for c in db.session.scalars(select(Checkout)))
