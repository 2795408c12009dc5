"""Reconciliation against the stand-in's Transaction Search and Subscriptions API, over
real HTTP: each kind of difference planted and found, with both sides in its flag."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from gateway.reconciliation.run import reconcile
from models import Notification, Payment, Subscription

from .conftest import counts, flags, forget_payment, invent_payment, kinds, past_lag, subscribe


def test_clean_account_raises_no_flag(rest, client, login_as, member, db, clock):
    """Does an account where nothing was lost reconcile without a single flag?"""
    subscribe(rest, client, login_as, member)
    rest.advance(days=31)  # a renewal, by webhook
    rest.advance(days=31)
    past_lag(rest)
    summary = reconcile(clock.now(), days=70)
    assert "3 payment(s)" in summary and "0 difference(s)" in summary, summary
    assert "1 subscription(s) asked about: 0 difference(s)" in summary, summary
    assert flags(db) == []


def test_lost_payment_is_backfilled_flagged_and_restores_access(
    rest, client, login_as, member, db, clock
):
    """PayPal has a payment we lost: stored as PayPal's word, applied, and flagged."""
    paypal_id = subscribe(rest, client, login_as, member)
    past_lag(rest)
    txn = db.session.scalar(select(Payment.txn_id))
    forget_payment(db, clock, txn)
    assert client.get("/premium").status_code == 403

    reconcile(clock.now())
    [flag] = flags(db)
    assert flag.key == f"reconcile:missing:{txn}"
    assert "ours: no such payment" in flag.message
    assert f"PayPal's: {txn} 9.00 USD Completed" in flag.message and paypal_id in flag.message
    assert "Backfilled" in flag.message
    note = db.session.get(Notification, flag.notification_id)
    assert note.channel == "csv" and note.status == "pending"

    rest.settle()  # the inbox applies PayPal's word
    db.session.expire_all()
    assert db.session.get(Notification, note.id).status == "processed"
    assert db.session.scalar(select(Payment.txn_id)) == txn
    assert client.get("/premium").status_code == 200

    # Again and again: nothing new (the payment is back, the flag raised once).
    before = counts(db)
    reconcile(clock.now())
    reconcile(clock.now())
    assert counts(db) == before


def test_payment_paypal_does_not_have(rest, client, login_as, member, db, clock):
    subscribe(rest, client, login_as, member)
    past_lag(rest)
    sub = db.session.scalar(select(Subscription))
    invent_payment(db, clock, sub, "OURSONLY000000001")
    reconcile(clock.now())
    [flag] = flags(db)
    assert flag.key == "reconcile:unreported:OURSONLY000000001"
    assert "ours: OURSONLY000000001 9.00 USD Completed" in flag.message
    assert "PayPal's: not in its report of" in flag.message
    assert flag.subscription_id == sub.id


def test_different_amount_shows_both_sides(rest, client, login_as, member, db, clock):
    subscribe(rest, client, login_as, member)
    past_lag(rest)
    pay = db.session.scalar(select(Payment))
    pay.amount = Decimal("7.00")
    db.session.commit()
    reconcile(clock.now())
    [flag] = flags(db)
    assert flag.key == f"reconcile:amount:{pay.txn_id}:7.00:9.00"
    assert f"ours: {pay.txn_id} 7.00 USD Completed" in flag.message
    assert f"PayPal's: {pay.txn_id} 9.00 USD Completed" in flag.message


def test_refund_we_never_heard_of(rest, client, login_as, member, db, clock):
    """PayPal refunded (its webhook lost): PayPal says refunded, we say completed."""
    subscribe(rest, client, login_as, member)
    txn = db.session.scalar(select(Payment.txn_id))
    rest.paypal.control("faults", kind="webhook_drop", count=5)
    rest.paypal.control(f"transactions/{txn}/refund")
    past_lag(rest)
    assert db.session.scalar(select(Payment.status)) == "Completed"
    reconcile(clock.now())
    [flag] = flags(db)
    assert flag.key == f"reconcile:status:{txn}:Completed"
    assert "ours: " in flag.message and "Completed" in flag.message
    assert "Refunded" in flag.message  # PayPal's side


def test_subscription_cancelled_at_paypal_without_webhook(
    rest, client, login_as, member, db, clock
):
    paypal_id = subscribe(rest, client, login_as, member)
    rest.paypal.control("faults", kind="webhook_drop", count=5)
    rest.paypal.control(f"subscriptions/{paypal_id}/cancel")  # its webhook is lost
    past_lag(rest)
    assert db.session.scalar(select(Subscription.state)) == "active"
    reconcile(clock.now())
    [flag] = flags(db)
    assert flag.key == f"reconcile:subscription:{paypal_id}:CANCELLED"
    assert f"ours: {paypal_id} active, paid through" in flag.message
    assert f"PayPal's: {paypal_id} CANCELLED since" in flag.message
    # Nothing silently fixed: still active here until an admin acts.
    assert db.session.scalar(select(Subscription.state)) == "active"


def test_every_difference_flagged_once_however_often_it_runs(
    rest, client, login_as, member, db, clock
):
    paypal_id = subscribe(rest, client, login_as, member)
    rest.advance(days=31)
    past_lag(rest)
    first, second = db.session.scalars(select(Payment).order_by(Payment.paid_at)).all()
    second.amount = Decimal("1.00")
    db.session.commit()
    invent_payment(db, clock, db.session.scalar(select(Subscription)))
    forget_payment(db, clock, first.txn_id)
    rest.paypal.control(f"subscriptions/{paypal_id}/suspend")
    reconcile(clock.now())
    found = set(kinds(db))
    assert found == {"missing", "unreported", "amount", "subscription"}, found
    before = counts(db)
    for _ in range(3):
        reconcile(clock.now())
    assert counts(db) == before


def test_paging_over_many_pages(rest, client, login_as, member, make_user, db, clock, app):
    """With one row a page, every page of every window is read: a difference on the last
    page is found."""
    app.config["RECONCILE_PAGE_SIZE"] = 1
    for n in range(3):
        subscribe(rest, client, login_as, make_user(f"m{n}@example.com"))
    rest.advance(days=31)
    past_lag(rest)
    calls = []
    api = app.extensions["paypal_api"]
    real = api.call

    def counting(method, path, **kw):
        if path == "/v1/reporting/transactions":
            calls.append(kw["params"])
        return real(method, path, **kw)

    api.call = counting
    summary = reconcile(clock.now())
    assert "6 payment(s)" in summary and "0 difference(s)" in summary, summary
    # Two windows (35 days and the skew are more than 31), three payments in each.
    assert [c["page"] for c in calls] == ["1", "2", "3"] * 2
    assert all(c["fields"] == "all" and c["page_size"] == "1" for c in calls)
    last = db.session.scalars(select(Payment).order_by(Payment.paid_at.desc())).first()
    last.amount = Decimal("2.00")
    db.session.commit()
    reconcile(clock.now())
    assert kinds(db) == ["amount"]


def test_windows_of_at_most_31_days_over_a_long_range(
    rest, client, login_as, member, db, clock, app
):
    """--days 100 is asked in windows of at most 31 days, end to end, none in the lag."""
    subscribe(rest, client, login_as, member)
    for _ in range(3):
        rest.advance(days=31)
    past_lag(rest)
    calls = []
    api = app.extensions["paypal_api"]
    real = api.call

    def recording(method, path, **kw):
        if path == "/v1/reporting/transactions":
            calls.append((kw["params"]["start_date"], kw["params"]["end_date"]))
        return real(method, path, **kw)

    api.call = recording
    middle = db.session.scalars(select(Payment.txn_id).order_by(Payment.paid_at)).all()[1]
    forget_payment(db, clock, middle)
    summary = reconcile(clock.now(), days=100)
    assert "in 4 window(s)" in summary, summary
    from datetime import datetime, timedelta

    spans = [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in calls]
    assert all(b - a <= timedelta(days=31) for a, b in spans)
    assert all(spans[i][1] == spans[i + 1][0] for i in range(len(spans) - 1))
    assert spans[-1][1] <= clock.now() - timedelta(hours=3)
    assert [f.key for f in flags(db)] == [f"reconcile:missing:{middle}"]


def test_rows_still_within_the_reporting_lag_are_left_alone(
    rest, client, login_as, member, db, clock
):
    """A payment made an hour ago is neither missing nor unreported yet."""
    subscribe(rest, client, login_as, member)
    rest.advance(hours=1)
    forget_payment(db, clock, db.session.scalar(select(Payment.txn_id)))
    reconcile(clock.now())
    assert flags(db) == []
    rest.advance(hours=3)
    reconcile(clock.now())
    assert kinds(db) == ["missing"]


def test_paypal_down_flags_nothing_and_the_run_fails(
    rest, client, login_as, member, db, clock, app, runner
):
    """No answer from PayPal: our payments are not called unreported; the run says why."""
    subscribe(rest, client, login_as, member)
    past_lag(rest)
    api = app.extensions["paypal_api"]
    api.base_url, api.retries = "http://127.0.0.1:9", 0
    result = runner.invoke(args=["paypal", "reconcile"])
    assert result.exit_code == 1
    assert "incomplete: unreported payments not looked for" in result.output
    assert "subscriptions not asked about" in result.output and "connection failed" in result.output
    assert flags(db) == []


def test_standard_subscription_renewal_lost_by_ipn(
    live, client, login_as, member, premium, db, clock
):
    """A Payments Standard renewal whose IPN was lost: found in Transaction Search,
    backfilled, access extended; the Subscriptions API is never asked about Standard ones."""
    live.subscribe(client, login_as, member)
    live.settle()
    first_until = db.session.scalar(select(Subscription.access_until))
    live.paypal.control("faults", kind="ipn_drop", count=5)
    live.advance(days=31)
    live.advance(hours=4)
    assert db.session.scalar(select(Subscription.access_until)) == first_until
    summary = reconcile(clock.now())
    assert "0 subscription(s) asked about" in summary, summary
    assert kinds(db) == ["missing"]
    live.settle()
    assert db.session.scalar(select(Subscription.access_until)) > first_until
    before = counts(db)
    reconcile(clock.now())
    assert counts(db) == before
