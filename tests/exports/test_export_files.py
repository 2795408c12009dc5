"""Large exports as files: queued from the page, written by the job, downloaded when ready,
retried when a writer dies, failed when out of attempts, deleted when expired."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import g
from sqlalchemy import select, update

from gateway.billing.rules.statuses import ExportStatus, PaymentStatus
from gateway.exports import files
from gateway.exports import job as export_job
from gateway.stopping import Stop
from models import ExportRequest, OutboxMail, Payment, Subscription

from .helpers import many_subscriptions

SMALL = {"EXPORT_STREAM_MAX_ROWS": 10}
pytestmark = pytest.mark.parametrize("app", [SMALL], indirect=True)


@pytest.fixture
def subs(db, clock, admin, make_plan):
    plan = make_plan("premium-monthly")
    many_subscriptions(plan.id, admin.id, 2_500, clock.now())
    return 2_500


def only_export(db) -> ExportRequest:
    db.session.expire_all()
    return db.session.scalars(select(ExportRequest)).one()


def queue(client, login_as, admin, url="/admin/subscriptions.csv?view=all") -> str:
    login_as(admin)
    r = client.get(url)
    assert r.status_code == 303 and "/admin/exports?kind=subscriptions" in r.location
    offer = client.get(r.location)
    assert b"Prepare the file" in offer.data
    assert client.post(r.location).status_code == 303
    return r.location


def test_a_large_export_is_queued_written_and_downloaded_whole(
    client, login_as, admin, db, clock, subs
):
    """Above the limit: is the export queued, written by the job with its row count and
    checksum, and is the download every row, no more, in the page's order?"""
    queue(client, login_as, admin)
    export = only_export(db)
    assert export.status == ExportStatus.QUEUED and export.filters["view"] == "all"
    page = client.get("/admin/exports")
    assert page.headers.get("Refresh") == "5" and b"queued" in page.data
    assert f"export {export.id}: {subs} row(s)" in export_job.run(clock.now(), "test-runner")
    export = only_export(db)
    assert export.status == ExportStatus.READY
    assert (export.rows_written, export.rows_expected, export.attempts) == (subs, subs, 1)
    r = client.get(f"/admin/exports/{export.id}/download")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert f"-{subs}-rows.csv" in r.headers["Content-Disposition"]
    assert hashlib.sha256(r.data).hexdigest() == export.sha256
    assert len(r.data) == export.file_bytes
    rows = list(csv.reader(io.StringIO(r.data.decode(), newline="")))
    assert rows[0][0] == "id" and len(rows) == subs + 1
    assert [r[10] for r in rows[1:]] == sorted(r[10] for r in rows[1:])  # access_until asc
    page = client.get("/admin/exports")
    assert "Refresh" not in page.headers and b"2,500" in page.data and b"SHA-256" in page.data
    assert not list(files.export_dir().glob("*.part"))
    told = db.session.scalars(select(OutboxMail)).one()  # the admin who asked is told
    assert told.to_addr == admin.email and f"{subs:,} rows" in told.subject
    assert export.sha256 in told.text_body and "/admin/exports" in told.text_body


def test_a_small_export_still_streams(client, login_as, admin, db, clock, make_plan):
    """Within the limit, does the CSV come at once, with no export queued?"""
    plan = make_plan("premium-monthly")
    many_subscriptions(plan.id, admin.id, 10, clock.now())
    login_as(admin)
    r = client.get("/admin/subscriptions.csv?view=all")
    assert r.status_code == 200 and len(r.data.decode().strip().splitlines()) == 11
    assert db.session.scalar(select(ExportRequest)) is None


def test_the_same_request_twice_is_one_export(client, login_as, admin, db, subs):
    """Does asking again while it waits reuse the queued export?"""
    location = queue(client, login_as, admin)
    assert client.post(location).status_code == 303
    assert len(db.session.scalars(select(ExportRequest)).all()) == 1


def test_bad_filters_are_refused(client, login_as, admin, db):
    """An unknown view or export kind: a clear 400, nothing queued."""
    login_as(admin)
    assert client.get("/admin/subscriptions.csv?view=nope").status_code == 400
    assert client.post("/admin/exports?kind=nope").status_code == 400
    assert client.post("/admin/exports?kind=subscriptions&view=nope").status_code == 400
    assert db.session.scalar(select(ExportRequest)) is None


def test_a_dead_writer_is_retried_then_failed(client, login_as, admin, db, clock, app, subs):
    """A running export whose lease ran out: shown as interrupted, retried; on its last
    attempt marked failed, never ready, with no file left behind?"""
    queue(client, login_as, admin)
    export = only_export(db)
    owner = "dead-runner"
    claimed = files.claim(owner, clock.now())
    assert claimed is not None and claimed.id == export.id
    stray = files.export_dir() / (files.file_name(export.id, 1) + ".part")
    stray.write_text("id,member\n1,half\n")
    assert b"writing" in client.get("/admin/exports").data  # lease alive: still its own
    lease = timedelta(seconds=app.config["EXPORT_LEASE_SECONDS"])
    clock.advance(seconds=lease.total_seconds() + 1)
    page = client.get("/admin/exports").data
    assert b"interrupted" in page and b"will be retried (attempt 1 of 3)" in page
    assert client.get(f"/admin/exports/{export.id}/download").status_code == 409
    export_job.run(clock.now(), "test-runner")  # attempt 2 completes
    export = only_export(db)
    assert (export.status, export.attempts, export.rows_written) == (ExportStatus.READY, 2, subs)
    assert not stray.exists()
    # Out of attempts: a lapsed lease on the last attempt ends as failed.
    export.status, export.attempts, export.lease_until = ExportStatus.RUNNING, 3, clock.now()
    export.file_name = None
    db.session.commit()
    clock.advance(seconds=1)
    export_job.run(clock.now(), "test-runner")
    export = only_export(db)
    assert export.status == ExportStatus.FAILED and "stopped 3 times" in (export.error or "")
    assert b"failed: the runner writing it stopped 3 times" in client.get("/admin/exports").data
    assert list(files.export_dir().iterdir()) == []  # the orphaned ready file was swept


def test_a_ready_file_expires_and_is_deleted(client, login_as, admin, db, clock, app, subs):
    """After EXPORT_KEEP_HOURS: file deleted, export expired, download refused."""
    queue(client, login_as, admin)
    export_job.run(clock.now(), "test-runner")
    export = only_export(db)
    assert export.file_name is not None
    path = files.export_dir() / export.file_name
    assert path.is_file()
    clock.advance(hours=app.config["EXPORT_KEEP_HOURS"] + 0.01)
    assert export_job.run(clock.now(), "test-runner").endswith(
        "1 expired; 0 given up; 0 stray file(s) deleted"
    )
    export = only_export(db)
    assert export.status == ExportStatus.EXPIRED and not path.exists()
    assert client.get(f"/admin/exports/{export.id}/download").status_code == 409


def test_a_stopping_scheduler_puts_the_export_back(client, login_as, admin, db, clock, subs):
    """Stopped midway: is the export queued again (attempt not counted), with no file?"""
    queue(client, login_as, admin)
    stop = Stop()
    stop.set("test")
    export = files.claim("stopping-runner", clock.now())
    assert export is not None
    g.stop = stop
    try:
        assert "back in the queue" in files.run_one(export, "stopping-runner")
    finally:
        del g.stop
    export = only_export(db)
    assert (export.status, export.attempts, export.lease_owner) == (ExportStatus.QUEUED, 0, None)
    assert list(files.export_dir().iterdir()) == []


def test_a_writer_that_lost_its_lease_leaves_no_file(
    client, login_as, admin, db, clock, subs, monkeypatch
):
    """Another runner took the export over while this one stalled: does this one stop,
    delete its file and leave the export to the new owner?"""
    queue(client, login_as, admin)
    export = files.claim("slow-runner", clock.now())
    assert export is not None
    real_report = files.Writer._report

    def taken_over(self, **values):
        if values.get("rows_written"):  # the first progress report: someone took it
            db.session.execute(update(ExportRequest).values(lease_owner="other-runner"))
            db.session.commit()
        real_report(self, **values)

    monkeypatch.setattr(files.Writer, "_report", taken_over)
    assert "taken over" in files.run_one(export, "slow-runner")
    export = only_export(db)
    assert export.status == ExportStatus.RUNNING and export.lease_owner == "other-runner"
    assert list(files.export_dir().iterdir()) == []


@pytest.mark.parametrize(
    "url",
    [
        "/admin/members.csv",
        "/admin/members.csv?q=bulk",
        "/admin/payments.csv",
        "/admin/payments.csv?status=Refunded",
        "/admin/subscriptions.csv?view=active&sort=paid_through&dir=desc",
    ],
)
def test_each_export_counts_what_it_writes(client, login_as, admin, db, clock, make_user, url):
    """For every kind and filter: the count shown as progress equals the rows written, and
    the file holds what the direct CSV of the same filters would (same rows, same order)?"""
    users = [make_user(f"bulk{i}@example.com") for i in range(20)]
    for i, user in enumerate(users):
        sub = Subscription(
            user_id=user.id if i % 5 else None,  # some unclaimed
            paypal_id=f"I-EACH{i}",
            access_until=clock.now() + timedelta(days=i - 3),
            paid_through=clock.now() + timedelta(days=i - 4),
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        db.session.add(sub)
        db.session.flush()
        for j in range(i % 3 + 1):
            db.session.add(
                Payment(
                    subscription_id=sub.id,
                    txn_id=f"TXN{i}-{j}",
                    status=PaymentStatus.REFUNDED if j == 1 else PaymentStatus.COMPLETED,
                    amount=Decimal("9.00"),
                    currency="USD",
                    paid_at=clock.now() - timedelta(hours=i * 3 + j),
                    created_at=clock.now(),
                )
            )
    db.session.commit()
    login_as(admin)
    r = client.get(url)
    if r.status_code == 200:
        pytest.fail(f"{url} streamed; the test needs more than 10 rows")
    assert client.post(r.location).status_code == 303
    export_job.run(clock.now(), "test-runner")
    export = only_export(db)
    assert export.status == ExportStatus.READY, export.error
    assert export.rows_expected == export.rows_written > 10
    written = client.get(f"/admin/exports/{export.id}/download").data.decode()
    assert len(written.splitlines()) == export.rows_written + 1
    client.application.config["EXPORT_STREAM_MAX_ROWS"] = 1_000
    streamed = client.get(url)
    assert streamed.status_code == 200
    assert streamed.data.decode().splitlines()[1:] == written.splitlines()[1:]
