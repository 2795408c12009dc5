"""The backlogs bench/processing.py drains: what PayPal would have queued in the inbox.

- renewals: one payment per subscription seeded in SQL (the common day);
- launch: new subscriptions, each claimed through a real checkout token (the site's own
  `open_checkout`, as a member's click on Subscribe makes it): a signup and a first
  payment, half in PayPal's usual order, half reversed, a few subscriptions interleaved;
- mix: renewals, new subscriptions, refunds of the renewals and cancellations.

The bodies are the fields `tests/paypal/ipn_builders.py` uses, windows-1252 encoded.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from flask import Flask

PLAN = "premium-monthly"
RENEWED_AT = datetime(2026, 1, 15, 12, tzinfo=UTC)


def _body(fields: list[tuple[str, str]], token: str = "") -> bytes:
    from paypal_sim.formats import encode_form

    common = [
        ("business", "merchant@example.com"),
        ("receiver_email", "merchant@example.com"),
        ("test_ipn", "1"),
        ("charset", "windows-1252"),
        ("custom", token),
        ("item_number", PLAN),
        ("first_name", "José"),
    ]
    return encode_form(fields + common, "windows-1252")


def signup(sub: str, at: datetime, token: str) -> bytes:
    from paypal_sim.formats import ipn_date

    return _body(
        [
            ("txn_type", "subscr_signup"),
            ("subscr_id", sub),
            ("subscr_date", ipn_date(at)),
            ("mc_amount3", "9.00"),
            ("period3", "1 M"),
            ("recurring", "1"),
            ("mc_currency", "USD"),
            ("payer_email", f"{sub.lower()}@example.com"),
        ],
        token,
    )


def payment(sub: str, txn: str, at: datetime, token: str = "") -> bytes:
    from paypal_sim.formats import ipn_date

    return _body(
        [
            ("txn_type", "subscr_payment"),
            ("subscr_id", sub),
            ("txn_id", txn),
            ("payment_date", ipn_date(at)),
            ("payment_status", "Completed"),
            ("mc_gross", "9.00"),
            ("mc_fee", "0.56"),
            ("mc_currency", "USD"),
        ],
        token,
    )


def refund(parent: str, txn: str, at: datetime) -> bytes:
    from paypal_sim.formats import ipn_date

    return _body(
        [
            ("payment_date", ipn_date(at)),
            ("payment_status", "Refunded"),
            ("parent_txn_id", parent),
            ("txn_id", txn),
            ("mc_gross", "-9.00"),
            ("mc_currency", "USD"),
        ]
    )


def cancel(sub: str, at: datetime) -> bytes:
    from paypal_sim.formats import ipn_date

    return _body([("txn_type", "subscr_cancel"), ("subscr_id", sub), ("subscr_date", ipn_date(at))])


def renewal_ref(i: int) -> str:
    return f"I-BENCH{i:08d}"


def txn(run: str, i: int) -> str:
    return f"{run}{i:010d}"[:19]


def _app(url: str) -> Flask:
    from gateway import create_app

    return create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url}, instance_path=tempfile.mkdtemp()
    )


def seed(url: str, subscriptions: int, members: int = 0) -> None:
    """Schema through the real migrations, one plan, the subscriptions that renew, and
    the members who will subscribe (each opens a checkout before a launch backlog)."""
    from flask_migrate import upgrade

    from gateway.roles.service import ensure_roles
    from models import Plan, Subscription, User, db

    with _app(url).app_context():
        upgrade()
        now = datetime.now(UTC)
        plan = Plan(
            code=PLAN,
            name="Premium",
            roles=ensure_roles(["premium"], now),
            price=Decimal("9.00"),
            currency="USD",
            period_count=1,
            period_unit="M",
            active=True,
            created_at=now,
        )
        db.session.add(plan)
        db.session.flush()
        if subscriptions:  # an empty list would insert one row of defaults
            db.session.execute(
                sa.insert(Subscription),
                [
                    {
                        "paypal_id": renewal_ref(i),
                        "plan_id": plan.id,
                        "state": "active",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(subscriptions)
                ],
            )
        if members:
            db.session.execute(
                sa.insert(User),
                [
                    {
                        "email": f"member{i}@example.com",
                        "password_hash": "!",
                        "created_at": now,
                        "session_token": f"bench-session-{i}",
                    }
                    for i in range(members)
                ],
            )
        db.session.commit()
        db.engine.dispose()


def open_checkouts(url: str, count: int) -> list[str]:
    """`count` members each open a checkout for the plan, as a click on Subscribe does;
    their tokens (PayPal echoes one back as `custom`)."""
    from gateway.checkout.journal import open_checkout
    from models import Plan, User, db

    with _app(url).app_context():
        now = datetime.now(UTC)
        plan = db.session.scalars(sa.select(Plan).where(Plan.code == PLAN)).one()
        users = db.session.scalars(sa.select(User).order_by(User.id).limit(count)).all()
        tokens = [open_checkout(user, plan, now).token for user in users]
        db.session.commit()
        db.engine.dispose()
    assert len(tokens) == count, "seed more members"
    return tokens


@dataclass(frozen=True)
class Backlog:
    kind: str
    bodies: list[bytes]
    #: What applying it exactly once leaves: new subscriptions, new payments.
    subscriptions: int
    payments: int


def renewals(run: str, n: int) -> Backlog:
    return Backlog(
        "renewals", [payment(renewal_ref(i), txn(run, i), RENEWED_AT) for i in range(n)], 0, n
    )


def launch(run: str, tokens: list[str]) -> Backlog:
    """A signup and a first payment per token; odd subscriptions' payment comes first.
    Four subscriptions at a time: their first messages, then their second ones."""
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    firsts, seconds, bodies = [], [], []
    for i, token in enumerate(tokens):
        ref = f"I-{run}{i:07d}"
        pair = [signup(ref, at, token), payment(ref, txn(run, i), at, token)]
        if i % 2:
            pair.reverse()
        firsts.append(pair[0])
        seconds.append(pair[1])
        if len(firsts) == 4 or i == len(tokens) - 1:
            bodies += firsts + seconds
            firsts, seconds = [], []
    return Backlog("launch", bodies, len(tokens), len(tokens))


def mix(run: str, units: int, tokens: list[str]) -> Backlog:
    """Per unit of 9 messages: 4 renewals, a new subscription (signup, payment), a refund
    of the first renewal, a cancellation of the second renewal's subscription."""
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    bodies = []
    for u in range(units):
        subs = [4 * u + k for k in range(4)]
        bodies += [payment(renewal_ref(i), txn(run, i), RENEWED_AT) for i in subs]
        ref = f"I-{run}{u:07d}"
        bodies += [signup(ref, at, tokens[u]), payment(ref, txn(run + "N", u), at, tokens[u])]
        bodies.append(refund(txn(run, subs[0]), txn(run + "R", u), RENEWED_AT + timedelta(days=2)))
        bodies.append(cancel(renewal_ref(subs[1]), RENEWED_AT + timedelta(days=3)))
    return Backlog("mix", bodies, units, 5 * units)


def load_inbox(url: str, backlog: Backlog) -> int:
    """Queue the backlog as if PayPal had just sent it (every earlier open message is
    dropped); returns the id after which it starts."""
    engine = sa.create_engine(url)
    now = datetime.now(UTC) - timedelta(seconds=1)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM notifications WHERE status <> 'processed'"))
        after = conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM notifications")).scalar()
        conn.execute(
            sa.text(
                "INSERT INTO notifications (channel, received_at, body, headers, status, "
                "attempts, next_attempt_at) VALUES ('ipn', :t, :b, '{}', 'pending', 0, :t)"
            ),
            [{"t": now, "b": body} for body in backlog.bodies],
        )
    engine.dispose()
    return int(after or 0)
