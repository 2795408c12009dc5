"""The admin's reconciliation page (runs, open differences, "Reconcile now", the upload)
and the command line (`paypal reconcile`, `paypal import-activity`)."""

from __future__ import annotations

import io
import re

from sqlalchemy import select

from models import AuditEntry, JobRun

from . import activity_files as files
from .conftest import counts, flags, forget_payment, past_lag, subscribe
from .test_import_activity import download, transactions


def lost_payment(rest, client, login_as, member, db, clock) -> str:
    from models import Payment

    subscribe(rest, client, login_as, member)
    past_lag(rest)
    txn = db.session.scalar(select(Payment.txn_id))
    forget_payment(db, clock, txn)
    return txn


def test_reconcile_now_button_runs_and_the_page_shows_runs_and_differences(
    rest, client, login_as, member, admin, db, clock, app
):
    txn = lost_payment(rest, client, login_as, member, db, clock)
    browser = login_as(admin, browser=app.test_client())
    answer = browser.post("/admin/reconciliation/run", data={"days": "40"})
    assert answer.status_code == 303
    run = db.session.scalar(select(JobRun).where(JobRun.job == "reconcile"))
    assert run is not None and run.outcome.value == "ok" and "1 new flag(s)" in run.summary
    assert (
        db.session.scalar(select(AuditEntry.action).where(AuditEntry.subject_id == run.id))
        == "reconcile"
    )
    page = browser.get("/admin/reconciliation").data.decode()
    assert "Reconciliation ok" in page  # the flash
    assert "Open differences (1)" in page and f"PayPal has payment {txn}" in page
    assert run.summary.replace("'", "&#39;")[:60] in page
    # A member never gets here.
    assert client.get("/admin/reconciliation").status_code == 403


def test_upload_compares_and_a_second_upload_changes_nothing(
    rest, client, login_as, member, admin, db, clock, app
):
    txn = lost_payment(rest, client, login_as, member, db, clock)
    browser = login_as(admin, browser=app.test_client())
    data = download(rest)
    page = browser.post(
        "/admin/reconciliation/import",
        data={"file": (io.BytesIO(data), "Download.CSV")},
        content_type="multipart/form-data",
    )
    assert page.status_code == 200, page.data
    text = page.data.decode()
    assert "Imported Download.CSV" in text and "1 new flag(s), 1 payment(s) backfilled" in text
    assert [f.key for f in flags(db)] == [f"reconcile:missing:{txn}"]
    runs = db.session.scalars(select(JobRun).where(JobRun.job == "import-activity")).all()
    assert len(runs) == 1 and runs[0].owner == "admin admin@example.com"
    before = counts(db)
    browser.post(
        "/admin/reconciliation/import",
        data={"file": (io.BytesIO(data), "Download.CSV")},
        content_type="multipart/form-data",
    )
    assert counts(db) == before


def test_upload_reports_unreadable_rows_by_line(
    rest, client, login_as, member, admin, db, clock, app
):
    lost_payment(rest, client, login_as, member, db, clock)
    browser = login_as(admin, browser=app.test_client())
    data = files.render(transactions(rest), files.UK, bad_row=True)
    page = browser.post(
        "/admin/reconciliation/import",
        data={"file": (io.BytesIO(data), "uk.csv"), "date_format": "DMY"},
        content_type="multipart/form-data",
    )
    text = page.data.decode()
    assert page.status_code == 200 and "Rows that could not be read (1)" in text
    assert re.search(r"<td>3</td><td[^>]*>[^<]*31/31/2026", text), text


def test_upload_is_size_limited_and_needs_a_file(admin, login_as, app, db):
    browser = login_as(admin, browser=app.test_client())
    assert browser.post("/admin/reconciliation/import", data={}).status_code == 400
    app.config["RECONCILE_UPLOAD_MAX_MB"] = 0  # only the envelope's 64 KiB
    big = b"Date,Transaction ID,Gross,Currency\r\n" + b"01/01/2026,TXN,9.00,USD\r\n" * 10_000
    answer = browser.post(
        "/admin/reconciliation/import",
        data={"file": (io.BytesIO(big), "big.csv")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 413 and b"import-activity" in answer.data
    assert db.session.scalar(select(JobRun)) is None


def test_the_forms_need_their_csrf_token(admin, login_as, app, db):
    app.config["WTF_CSRF_ENABLED"] = True
    browser = login_as(admin, browser=app.test_client())
    page = browser.get("/admin/reconciliation").data.decode()
    assert browser.post("/admin/reconciliation/run", data={}).status_code == 400
    csv = b'"Date","Transaction ID","Gross","Currency"\r\n'
    refused = browser.post(
        "/admin/reconciliation/import",
        data={"file": (io.BytesIO(csv), "a.csv")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400 and db.session.scalar(select(JobRun)) is None
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None, page
    accepted = browser.post(
        "/admin/reconciliation/import",
        data={"file": (io.BytesIO(csv), "a.csv"), "csrf_token": token.group(1)},
        content_type="multipart/form-data",
    )
    assert accepted.status_code == 200 and b"Imported a.csv" in accepted.data


def test_cli_import_with_progress_then_again(
    rest, client, login_as, member, db, clock, runner, tmp_path
):
    txn = lost_payment(rest, client, login_as, member, db, clock)
    path = tmp_path / "Download.CSV"
    path.write_bytes(download(rest))
    result = runner.invoke(args=["paypal", "import-activity", str(path)])
    assert result.exit_code == 0, result.output
    assert "Importing Download.CSV" in result.output  # the progress bar
    assert "1 new flag(s), 1 payment(s) backfilled" in result.output
    assert "note: Download.CSV: dates read as MDY (a US header)" in result.output
    assert [f.key for f in flags(db)] == [f"reconcile:missing:{txn}"]
    before = counts(db)
    again = runner.invoke(args=["paypal", "import-activity", str(path)])
    assert again.exit_code == 0 and "0 new flag(s), 0 payment(s) backfilled" in again.output
    assert counts(db) == before


def test_cli_import_reports_bad_rows_and_fails(
    rest, client, login_as, member, db, clock, runner, tmp_path
):
    lost_payment(rest, client, login_as, member, db, clock)
    path = tmp_path / "uk.zip"
    first, second = files.split(files.render(transactions(rest), files.UK, bad_row=True), 2)
    path.write_bytes(files.zipped({"a.csv": first, "b.csv": second}))
    result = runner.invoke(args=["paypal", "import-activity", str(path), "--date-format", "dmy"])
    assert result.exit_code == 1
    assert "line 3: " in result.output and "31/31/2026" in result.output
    assert "1 new flag(s)" in result.output


def test_cli_reconcile(rest, client, login_as, member, db, clock, runner):
    txn = lost_payment(rest, client, login_as, member, db, clock)
    result = runner.invoke(args=["paypal", "reconcile", "--days", "10"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("reconcile: ok: Transaction Search")
    assert [f.key for f in flags(db)] == [f"reconcile:missing:{txn}"]
    assert runner.invoke(args=["paypal", "reconcile", "--days", "0"]).exit_code == 2
