"""A live gateway and stand-in (tests/paypal/conftest.py), REST checkout and webhooks on,
and helpers to plant differences between our records and PayPal's."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import delete, func, select

from gateway.billing.rules.statuses import PaymentStatus
from gateway.subscriptions import service
from models import Flag, Notification, Payment, Receipt, Subscription, SubscriptionFact
from tests.paypal.conftest import live, member, premium  # noqa: F401  (fixtures used here)

WEBHOOK_ID = "WH-TOLLGATE-RECONCILE"


@pytest.fixture
def rest(live, app, make_plan):  # noqa: F811
    """The gateway's webhook registered at the stand-in; a monthly REST plan on sale."""
    app.config.update(PAYPAL_WEBHOOK_ID=WEBHOOK_ID)
    for key in ("paypal_api", "webhook_certs"):
        app.extensions.pop(key, None)
    live.paypal.control("webhooks", id=WEBHOOK_ID, url=f"{live.url}/paypal/webhook")
    make_plan("premium-monthly", role="premium", price="9.00", paypal_plan_id="P-MONTHLY")
    return live


def subscribe(rest, client, login_as, user) -> str:
    """The member subscribes through REST checkout and returns; PayPal's id."""
    login_as(user)
    page = client.post("/checkout/subscribe/premium-monthly")
    assert page.status_code == 303, page.data
    token = parse_qs(urlsplit(page.headers["Location"]).query)["ba_token"][0]
    back = rest.paypal.http.post(
        rest.paypal.url("/sim/checkout/rest"),
        data={"ba_token": token, "decision": "approve", "email": "buyer@example.com"},
        allow_redirects=False,
        timeout=5,
    )
    assert back.status_code == 303, back.text
    assert client.get(back.headers["Location"].replace(rest.url, "")).status_code == 200
    rest.settle()
    return parse_qs(urlsplit(back.headers["Location"]).query)["subscription_id"][0]


def past_lag(rest) -> None:
    """Both clocks past the reporting lag, so that everything so far is fully reported."""
    rest.advance(hours=4)


def flags(db) -> list[Flag]:
    db.session.expire_all()
    return list(db.session.scalars(select(Flag).where(Flag.kind == "reconcile").order_by(Flag.id)))


def kinds(db) -> list[str]:
    """The kind of each reconciliation flag ("missing", "amount", ...), oldest first."""
    return [str(f.key).split(":")[1] for f in flags(db)]


def counts(db) -> dict[str, int]:
    """Rows of everything reconciliation could change."""
    db.session.expire_all()
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Flag, Notification, Payment, Subscription, SubscriptionFact)
    }


def snapshot(db) -> list[tuple]:
    """Every payment and subscription as stored (a second import must change none)."""
    db.session.expire_all()
    pays = [
        (p.txn_id, p.status, p.amount, p.currency, p.paid_at)
        for p in db.session.scalars(select(Payment).order_by(Payment.txn_id))
    ]
    subs = [
        (s.paypal_id, s.state, s.paid_through, s.access_until)
        for s in db.session.scalars(select(Subscription).order_by(Subscription.id))
    ]
    return pays + subs


def forget_payment(db, clock, txn_id: str) -> None:
    """Plant "PayPal has it, we don't": our payment and its facts vanish, access recomputed."""
    sub_id = db.session.scalar(select(Payment.subscription_id).where(Payment.txn_id == txn_id))
    db.session.execute(delete(SubscriptionFact).where(SubscriptionFact.txn_id == txn_id))
    payment_id = select(Payment.id).where(Payment.txn_id == txn_id).scalar_subquery()
    db.session.execute(delete(Receipt).where(Receipt.payment_id == payment_id))  # its number
    db.session.execute(delete(Payment).where(Payment.txn_id == txn_id))
    sub = db.session.get(Subscription, sub_id)
    service.recompute(sub, clock.now())
    db.session.commit()


def invent_payment(db, clock, sub: Subscription, txn_id: str = "OURSONLY000000001") -> Payment:
    """Plant "we have it, PayPal doesn't"."""
    pay = Payment(
        subscription_id=sub.id,
        txn_id=txn_id,
        status=PaymentStatus.COMPLETED,
        amount=Decimal("9.00"),
        currency="USD",
        paid_at=clock.now() - timedelta(days=1),
        created_at=clock.now(),
    )
    db.session.add(pay)
    db.session.commit()
    return pay
