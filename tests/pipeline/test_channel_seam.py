"""The channel seam: a new channel needs only a verify and an interpret."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from gateway.billing import Fact, FactKind
from gateway.billing.rules.interpretation import Interpretation, Money, PaymentInfo, PlanRef
from gateway.billing.rules.statuses import Channel, NotificationStatus, PlanRefKind
from gateway.channels.seam import Received, Verdict
from gateway.checkout.journal import open_checkout
from gateway.pipeline import intake, worker
from models import Flag, Notification, Subscription, SubscriptionFact
from models import db as _db
from tests.inbox import process_due


def _stored(note_id: int) -> Notification:
    note = _db.session.get(Notification, note_id)
    assert note is not None
    return note


class FakeChannel:
    """Bytes like `sub=I-9;txn=T-1;plan=premium-monthly;token=...` are a completed payment."""

    def __init__(self, fail_interpret: int = 0) -> None:
        self.verified: list[int] = []
        self.fail_interpret = fail_interpret

    def verify(self, received: Received) -> Verdict:
        self.verified.append(received.id)
        return Verdict.verified("FAKE-SIGNATURE-OK")

    def interpret(self, received: Received) -> Interpretation:
        if self.fail_interpret:
            self.fail_interpret -= 1
            raise RuntimeError("a bug in the channel")
        f = dict(part.split("=", 1) for part in received.body.decode().split(";"))
        at, amount = received.received_at, Decimal("9.00")
        return Interpretation(
            summary=f"fake payment {f['txn']}",
            event="fake_payment",
            txn_id=f["txn"],
            status="Completed",
            subscription_ref=f["sub"],
            plan_refs=(PlanRef(PlanRefKind.ITEM_NUMBER, f["plan"]),),
            member_token=f.get("token", ""),
            money=Money(amount, "USD"),
            payment=PaymentInfo(f["txn"], "Completed", amount, "USD", None, at),
            facts=(
                Fact(
                    FactKind.PAYMENT_COMPLETED,
                    at,
                    key=f"{f['txn']}:Completed",
                    txn_id=f["txn"],
                    amount=amount,
                ),
            ),
        )


@pytest.fixture
def fake(app):
    channel = FakeChannel()
    app.extensions["channels"][Channel.API] = channel
    return channel


def test_a_new_channel_drives_the_real_pipeline_to_access(
    app, db, clock, fake, make_user, make_plan
):
    """Does a channel made of a verify and an interpret reach a fact, a payment and access?"""
    member, plan = make_user(), make_plan("premium-monthly")
    checkout = open_checkout(member, plan, clock.now())
    db.session.commit()
    body = f"sub=I-FAKE1;txn=T-FAKE1;plan=premium-monthly;token={checkout.token}".encode()
    note = _stored(intake.store(Channel.API, body, {"X-Fake": "1"}, "127.0.0.1", clock.now()))

    assert process_due() == 1
    db.session.expire_all()
    note = db.session.get(Notification, note.id)
    assert note.status is NotificationStatus.PROCESSED and fake.verified == [note.id]
    assert note.txn_type == "fake_payment" and note.subscr_id == "I-FAKE1"
    sub = db.session.scalar(select(Subscription).where(Subscription.paypal_id == "I-FAKE1"))
    assert sub.user_id == member.id and sub.plan_id == plan.id
    assert sub.access_until == clock.now() + timedelta(days=31)  # 15 Jan + 1 month
    fact = db.session.scalar(
        select(SubscriptionFact).where(SubscriptionFact.subscription_id == sub.id)
    )
    assert fact.source == "api" and fact.notification_id == note.id


def test_an_unregistered_channel_is_retried_then_flagged(app, db, clock):
    """Is a message of a channel nobody registered kept and flagged, not lost or crashed?"""
    app.config.update(IPN_MAX_ATTEMPTS=2)
    app.extensions["channels"].pop(Channel.CSV)  # every channel has one: take one away
    note = _stored(intake.store(Channel.CSV, b"whatever", {}, None, clock.now()))
    process_due()
    clock.advance(hours=2)
    process_due()
    db.session.expire_all()
    note = db.session.get(Notification, note.id)
    assert note.status is NotificationStatus.FLAGGED and "no adapter" in note.outcome


def test_verification_and_application_are_retried_apart(app, db, clock, fake, make_plan):
    """Does a failing apply step retry without asking PayPal to verify again?"""
    make_plan("premium-monthly")
    fake.fail_interpret = 1
    note = _stored(
        intake.store(Channel.API, b"sub=I-F2;txn=T-F2;plan=premium-monthly", {}, None, clock.now())
    )
    process_due()
    db.session.expire_all()
    assert db.session.get(Notification, note.id).status is NotificationStatus.RETRY
    clock.advance(minutes=5)
    process_due()
    db.session.expire_all()
    note = db.session.get(Notification, note.id)
    assert note.status is NotificationStatus.PROCESSED
    assert fake.verified == [note.id]  # verified once, applied on the second try


def test_a_poisoned_message_does_not_stall_its_batch(app, db, clock, fake, make_plan):
    """Does one message whose interpret blows up leave the rest of its batch processed?"""
    make_plan("premium-monthly")
    fake.fail_interpret = 1
    notes = [
        _stored(
            intake.store(
                Channel.API,
                f"sub=I-B{i};txn=T-B{i};plan=premium-monthly".encode(),
                {},
                None,
                clock.now(),
            )
        )
        for i in range(4)
    ]
    assert process_due() == 4
    db.session.expire_all()
    statuses = [db.session.get(Notification, n.id).status for n in notes]
    assert statuses == [NotificationStatus.RETRY] + [NotificationStatus.PROCESSED] * 3


def test_a_poisoned_message_is_flagged_after_its_retries_and_harms_no_other(
    app, db, clock, make_plan
):
    """A message whose interpret always raises: flagged in the end; its batch unharmed."""

    class Poisoned(FakeChannel):
        def interpret(self, received: Received) -> Interpretation:
            if received.body.startswith(b"poison"):
                raise ValueError("bytes nobody can read")
            return super().interpret(received)

    app.extensions["channels"][Channel.API] = Poisoned()
    app.config["IPN_MAX_ATTEMPTS"] = 3
    make_plan("premium-monthly")
    poison = _stored(intake.store(Channel.API, b"poison", {}, None, clock.now()))
    good = [
        _stored(
            intake.store(
                Channel.API,
                f"sub=I-P{i};txn=T-P{i};plan=premium-monthly".encode(),
                {},
                None,
                clock.now(),
            )
        )
        for i in range(3)
    ]
    process_due()
    for _ in range(3):
        clock.advance(hours=1)
        process_due()
    db.session.expire_all()
    assert [db.session.get(Notification, n.id).status for n in good] == ["processed"] * 3
    poisoned = db.session.get(Notification, poison.id)
    assert poisoned.status is NotificationStatus.FLAGGED and poisoned.attempts == 3
    assert "bytes nobody can read" in poisoned.outcome
    flag = db.session.scalar(select(Flag).where(Flag.notification_id == poison.id))
    assert flag is not None and flag.kind == "processing"


def test_drain_takes_batch_after_batch(app, db, clock, fake, make_plan):
    """Does drain() empty an inbox larger than a batch, in batches, and stop?"""
    app.config["INBOX_BATCH_SIZE"] = 7
    make_plan("premium-monthly")
    for i in range(30):
        intake.store(
            Channel.API,
            f"sub=I-D{i};txn=T-D{i};plan=premium-monthly".encode(),
            {},
            None,
            clock.now(),
        )
    assert worker.drain() == 30
    assert worker.drain() == 0
    statuses = db.session.scalars(select(Notification.status)).all()
    assert statuses == [NotificationStatus.PROCESSED] * 30 and len(fake.verified) == 30
