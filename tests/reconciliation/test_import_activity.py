"""Activity CSV import: the stand-in's download and hand-written locale variants give the
same differences as Transaction Search; importing twice changes nothing."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from gateway.billing.formats.activity_locale import DateOrder
from gateway.reconciliation.importing import import_activity, members
from gateway.reconciliation.run import reconcile
from models import Notification, Payment, Subscription

from . import activity_files as files
from .conftest import counts, flags, forget_payment, invent_payment, past_lag, snapshot, subscribe


@pytest.fixture
def planted(rest, client, login_as, member, db, clock):
    """Three months paid; then three differences: a payment lost here, a refund made at
    PayPal whose webhook was lost, and a payment of ours PayPal never had."""
    subscribe(rest, client, login_as, member)
    rest.advance(days=31)
    rest.advance(days=31)
    lost, _, refunded = db.session.scalars(select(Payment.txn_id).order_by(Payment.paid_at)).all()
    rest.paypal.control("faults", kind="webhook_drop", count=5)
    rest.paypal.control(f"transactions/{refunded}/refund")
    past_lag(rest)
    forget_payment(db, clock, lost)
    invent_payment(db, clock, db.session.scalar(select(Subscription)), "OURSONLY000000001")
    return {
        f"reconcile:missing:{lost}",
        f"reconcile:status:{refunded}:Completed",
        "reconcile:unreported:OURSONLY000000001",
    }


def download(rest) -> bytes:
    answer = rest.paypal.http.get(rest.paypal.url("/sim/reports/activity.csv"), timeout=5)
    assert answer.status_code == 200
    return answer.content


def transactions(rest) -> list[dict]:
    return rest.paypal.http.get(rest.paypal.url("/sim/api/state"), timeout=5).json()["transactions"]


def run_import(data: bytes, now, name: str = "Download.CSV", **options):
    return import_activity(members(io.BytesIO(data), name), name, now, **options)


def test_stand_ins_download_finds_every_difference(rest, planted, db, clock, client):
    report = run_import(download(rest), clock.now())
    assert {f.key for f in flags(db)} == planted, [f.message for f in flags(db)]
    assert report.problem_count == 0 and report.tally.backfilled == 1, report.summary()
    missing = next(f for f in flags(db) if ":missing:" in str(f.key))
    assert "ours: no such payment" in missing.message
    assert "(Activity CSV Download.CSV line 2)" in missing.message
    assert "dates read as MDY (a US header)" in " ".join(report.notes)

    # The same file again: no flag, no message, no change.
    before, stored = counts(db), snapshot(db)
    again = run_import(download(rest), clock.now())
    assert again.tally.new_flags == 0 and again.tally.backfilled == 0
    assert counts(db) == before and snapshot(db) == stored

    # The backfill applied; then the file once more still adds nothing.
    rest.settle()
    assert client.get("/premium").status_code == 200
    before, stored = counts(db), snapshot(db)
    run_import(download(rest), clock.now())
    assert counts(db) == before and snapshot(db) == stored


def test_transaction_search_agrees_with_the_download(rest, planted, db, clock):
    """The same comparison: what the download flagged, Transaction Search finds again."""
    run_import(download(rest), clock.now())
    before = {f.key for f in flags(db)}
    summary = reconcile(clock.now(), days=70)
    assert "3 difference(s)" in summary and "0 new flag(s), 0 payment(s) backfilled" in summary, (
        summary
    )
    assert {f.key for f in flags(db)} == before == planted


@pytest.mark.parametrize(
    "variant",
    ["uk", "de-decimal-comma-semicolons", "bom-and-memo-rows", "bad-row", "zip-of-two-parts"],
)
def test_locale_variants_give_the_same_differences(rest, planted, db, clock, variant):
    txns = transactions(rest)
    name = "Download.CSV"
    if variant == "uk":
        data = files.render(txns, files.UK)
    elif variant == "de-decimal-comma-semicolons":
        data = files.render(txns, files.DE)
    elif variant == "bom-and-memo-rows":
        data = files.render(txns, files.US, bom=True, memo=True)
    elif variant == "bad-row":
        data = files.render(txns, files.UK, bad_row=True)
    else:
        first, second = files.split(files.render(txns, files.UK), 2)
        data, name = files.zipped({"part-2.csv": second, "part-1.csv": first}), "Download.zip"
    report = run_import(data, clock.now(), name)
    assert {f.key for f in flags(db)} == planted, (report.summary(), [f.message for f in flags(db)])
    if variant == "bad-row":
        assert report.problem_count == 1
        assert report.problems[0].line == 3  # header, first row, then the bad one
        assert "31/31/2026" in report.problems[0].message
    else:
        assert report.problem_count == 0, report.problems
    if variant == "bom-and-memo-rows":
        assert report.skipped == 4  # three memo rows and the conversion
    if variant == "uk":
        assert "dates read as DMY (a UK header)" in " ".join(report.notes)
    if variant == "de-decimal-comma-semicolons":
        assert "decimal mark ','" in " ".join(report.notes)
    if variant == "zip-of-two-parts":
        assert report.tally.rows == 4 and "Download.zip/part-1.csv" in report.notes[0]
    before, stored = counts(db), snapshot(db)
    run_import(data, clock.now(), name)
    assert counts(db) == before and snapshot(db) == stored


def test_ambiguous_dates_are_never_guessed(rest, planted, db, clock):
    """A header that names no locale, and dates day and month could swap: each such row is
    reported; told the format, the same file imports."""
    txns = transactions(rest)
    plain = files.Locale("Europe/London", "%m/%d/%Y", ".", ",", "Zone", ())
    data = files.render(txns, plain).replace(b'"01/15/2026"', b'"01/05/2026"')
    report = run_import(data, clock.now())
    assert report.problem_count >= 1, report.summary()
    assert "ambiguous date 01/05/2026" in report.problems[0].message
    assert report.problems[0].line == 2
    told = run_import(data, clock.now(), date_order=DateOrder.MDY)
    assert told.problem_count == 0 and "dates read as MDY (as asked)" in " ".join(told.notes)


def test_a_backfilled_row_is_kept_as_paypal_wrote_it(rest, planted, db, clock):
    run_import(download(rest), clock.now())
    note = db.session.scalar(select(Notification).where(Notification.channel == "csv"))
    assert b'"kind":"reported_payment"' in note.body and b'"Transaction ID"' in note.body
    rest.settle()
    db.session.expire_all()
    note = db.session.get(Notification, note.id)
    assert note.status == "processed", (note.outcome, note.error)
    assert "backfilled by reconciliation" in note.outcome


def test_a_clean_account_imports_without_a_flag(rest, client, login_as, member, db, clock):
    subscribe(rest, client, login_as, member)
    rest.advance(days=31)
    past_lag(rest)
    before = counts(db)
    report = run_import(download(rest), clock.now())
    assert report.tally.rows == 2 and report.tally.differences == 0, report.summary()
    assert counts(db) == before
