"""`flask rebuild` in batches: the same report whatever the batch size, a dry run leaves
nothing behind, --apply repairs, messages without a subscription row, and the progress
lines (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update

from gateway.reconciliation.rebuild import rebuild
from gateway.reconciliation.rebuild_plan import plan
from models import Flag, Notification, Payment, Subscription, SubscriptionFact
from tests.inbox import process_due
from tests.paypal import ipn_builders as ipn

T = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)
SUBS = ("I-BATCH-A", "I-BATCH-B", "I-BATCH-C", "I-BATCH-D")


def post(client, body):
    r = client.post("/paypal/ipn", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200


def stories(client):
    """Four subscriptions whose messages arrive interleaved."""
    for sub in SUBS:
        post(client, ipn.signup(sub, T))
    for month in range(3):
        for i, sub in enumerate(SUBS):
            at = T + timedelta(days=30 * month, minutes=i)
            post(client, ipn.payment(sub, f"TXNBATCH{i}{month:07d}", at))
    post(client, ipn.event("I-BATCH-C", "subscr_cancel", T + timedelta(days=70)))
    while process_due():
        pass


def tamper(db, invent=True):
    """A wrong date on B and D, a lost fact on C, a fact no message backs on A."""
    for ref in ("I-BATCH-B", "I-BATCH-D"):
        db.session.execute(
            update(Subscription)
            .where(Subscription.paypal_id == ref)
            .values(access_until=T + timedelta(days=999))
        )
    db.session.execute(
        delete(SubscriptionFact).where(SubscriptionFact.txn_id == "TXNBATCH20000001")
    )
    if not invent:
        db.session.commit()
        return
    a = db.session.scalar(select(Subscription.id).where(Subscription.paypal_id == "I-BATCH-A"))
    db.session.execute(
        update(SubscriptionFact)
        .where(SubscriptionFact.subscription_id == a, SubscriptionFact.txn_id == "TXNBATCH00000002")
        .values(key="TXN-NOBODY-SENT")
    )
    db.session.commit()


def state(db):
    """Everything a replay could change."""
    db.session.expire_all()
    return (
        [
            (s.id, s.paypal_id, s.state, s.paid_through, s.access_until, s.updated_at)
            for s in db.session.scalars(select(Subscription).order_by(Subscription.id))
        ],
        sorted(
            db.session.execute(
                select(
                    SubscriptionFact.subscription_id, SubscriptionFact.kind, SubscriptionFact.key
                )
            ).all()
        ),
        sorted(
            db.session.execute(select(Payment.txn_id, Payment.status, Payment.period_end)).all()
        ),
        sorted(
            db.session.execute(
                select(
                    Notification.id,
                    Notification.subscription_id,
                    Notification.status,
                    Notification.outcome,
                )
            ).all()
        ),
        db.session.scalar(select(func.count()).select_from(Flag)),
    )


def test_batches_give_the_same_report_as_one_transaction(ready, client, db, clock):
    """Are the differences the same with one subscription a batch as with all in one?"""
    stories(client)
    tamper(db)
    whole = rebuild(clock.now(), batch_size=10_000)
    tiny = rebuild(clock.now(), batch_size=1)
    assert whole.batches == 1 and tiny.batches == len(SUBS)
    assert whole.replayed == tiny.replayed == 4 + 12 + 1
    assert whole.checked == tiny.checked == len(SUBS)
    assert sorted(whole.differences) == sorted(tiny.differences)
    text = "\n".join(tiny.differences)
    assert text.count("access_until is") == 2
    assert "fact(s) from message" in text and "were never stored" in text
    assert "stored fact payment_completed TXN-NOBODY-SENT has no message behind it" in text
    assert tiny.found == len(tiny.differences) == whole.found


def test_dry_run_leaves_the_database_unchanged(ready, client, db, clock):
    """Does a dry run in many batches roll every one of them back?"""
    stories(client)
    tamper(db)
    before = state(db)
    report = rebuild(clock.now() + timedelta(days=3), batch_size=2)
    assert report.found and report.batches > 1
    assert state(db) == before


def test_apply_repairs_batch_by_batch(ready, client, db, clock):
    """Does --apply in tiny batches commit each, so that a second run finds nothing?"""
    stories(client)
    good = state(db)[0]
    tamper(db, invent=False)
    first = rebuild(clock.now(), apply=True, batch_size=1)
    assert first.found == 3 and first.batches == len(SUBS)
    assert rebuild(clock.now(), batch_size=1).found == 0
    assert [row[:5] for row in state(db)[0]] == [row[:5] for row in good]


def test_report_keeps_the_first_lines_and_counts_the_rest(ready, client, db, clock):
    """With every message refused now (another receiver), is each one counted and the
    report cut at `keep` lines?"""
    stories(client)
    ready.config["PAYPAL_BUSINESS"] = "someone-else@example.com"
    report = rebuild(clock.now(), batch_size=3, keep=5)
    everything = rebuild(clock.now(), batch_size=3)
    assert len(report.differences) == 5 and report.more == report.found - 5
    assert report.differences == everything.differences[:5]
    assert report.found == everything.found == len(everything.differences)
    refused = [line for line in everything.differences if "would not apply now" in line]
    unbacked = [line for line in everything.differences if "has no message behind it" in line]
    assert len(refused) == 17 and len(unbacked) == 4 + 12 + 1  # every stored fact


def test_messages_stored_without_a_subscription_join_its_batch(ready, client, db, clock):
    """Messages applied without naming their subscription (as a webhook repeat is) replay
    with that subscription's batch and report nothing."""
    stories(client)
    db.session.execute(
        update(Notification)
        .where(Notification.subscr_id == "I-BATCH-B")
        .values(subscription_id=None)
    )
    db.session.commit()
    planned = plan()
    assert planned.messages == 17 and planned.subscriptions == len(SUBS)
    report = rebuild(clock.now(), batch_size=1, planned=planned)
    assert report.differences == [] and report.checked == len(SUBS)


def test_a_subscription_without_a_row_is_created_and_reported(ready, client, db, clock):
    """A PayPal id whose row is gone (renamed here): replay creates it in its own batch,
    reports it, and the rows the messages were applied to lose their facts' backing."""
    stories(client)
    db.session.execute(
        update(Notification)
        .where(Notification.subscr_id == "I-BATCH-D")
        .values(subscription_id=None)
    )
    db.session.execute(
        update(Subscription)
        .where(Subscription.paypal_id == "I-BATCH-D")
        .values(paypal_id="I-RENAMED")
    )
    db.session.commit()
    report = rebuild(clock.now(), batch_size=1)
    text = "\n".join(report.differences)
    assert "(I-BATCH-D): messages name it, but it had no row" in text
    assert "(I-RENAMED): stored fact" in text
    assert report.checked == len(SUBS) + 1


def test_message_now_applying_elsewhere_is_reported(ready, client, db, clock):
    """A message stored with one subscription that now finds another is a difference."""
    stories(client)
    db.session.execute(
        update(Subscription)
        .where(Subscription.paypal_id == "I-BATCH-A")
        .values(paypal_id="I-MOVED")
    )
    db.session.commit()
    report = rebuild(clock.now(), batch_size=1)
    assert any("but now applies to subscription" in line for line in report.differences)


def test_cli_prints_progress_and_cuts_the_report(ready, client, db, runner):
    """Does `flask rebuild` print progress lines with the rate, and say how many more?"""
    stories(client)
    tamper(db)
    result = runner.invoke(
        args=["rebuild", "--batch-size", "1", "--progress-every", "0", "--keep", "1"]
    )
    assert result.exit_code == 1
    out = result.output
    assert "rebuild: 17 message(s) about 4 subscription(s) (dry run" in out
    assert "messages/s" in out and "left" in out and "(100%)" in out
    assert "rebuild: replayed 17 message(s) in" in out and "4 batch(es)" in out
    assert "more difference(s) not shown (see --keep)" in out
    assert "4 subscription(s) checked" in out
    clean = runner.invoke(args=["rebuild", "--apply"])
    assert "(applied)" in clean.output
