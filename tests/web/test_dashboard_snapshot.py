"""The dashboard's stored counts: a slice of the job's latest count equals the reference
functions counted live at the same moment (every window, page and CSV), the page says how
old its numbers are (and warns when too old), an admin can count again, and small data or
a missing count is counted live.

The clock stands at Thursday 2026-01-15 12:00 UTC, as in test_dashboard.py."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gateway.billing.rules.statuses import PaymentStatus
from gateway.dashboard import snapshots
from gateway.jobs.registry import JOBS
from models import DashboardSnapshot, Payment
from tests.web.test_dashboard import rows_of, seed, table

CSVS = ("active", "movements", "revenue", "renewals", "flags")
WINDOWS = [{}, {"weeks": 1, "months": 1}, {"weeks": 9, "months": 4}, {"weeks": 104, "months": 36}]


@pytest.fixture
def world(db, clock, make_user, make_plan, make_subscription):
    out = seed(db, clock, make_user, make_plan, make_subscription)
    # On the edges of buckets: a payment at the first instant of December (and of a
    # Monday), another at the last instant of November.
    sub = out["subs"]["gina"]
    for txn, at in [
        ("EDGE1", datetime(2025, 12, 1, tzinfo=UTC)),
        ("EDGE2", datetime(2025, 11, 30, 23, 59, 59, tzinfo=UTC)),
    ]:
        db.session.add(
            Payment(
                subscription_id=sub.id,
                txn_id=txn,
                status=PaymentStatus.COMPLETED,
                amount=Decimal("1.50"),
                currency="USD",
                paid_at=at,
                created_at=clock.now(),
            )
        )
    db.session.commit()
    return out


@pytest.fixture
def stored(app):
    """Always read the stored count when there is one (whatever the data's size)."""
    app.config["DASHBOARD_LIVE_ROWS"] = 0


def count_now(db, clock) -> snapshots.Stored:
    return snapshots.store(clock.now(), 3, 7)


def everything(client) -> dict[tuple[str, str], list[list[str]]]:
    out = {}
    for window in WINDOWS:
        key = repr(sorted(window.items()))
        for chart in CSVS:
            out[(key, chart)] = rows_of(client, chart, **window)
        page = client.get("/admin/", query_string=window).data.decode()
        for chart in CSVS:
            out[(key, f"page:{chart}")] = table(page, chart)
    return out


def test_stored_count_equals_the_live_count(client, admin, login_as, world, db, clock, stored):
    """Every chart, every window, page table and CSV: the same as counted live."""
    login_as(admin)
    live = everything(client)  # no count stored yet: counted in each request
    assert db.session.query(DashboardSnapshot).count() == 0
    count_now(db, clock)
    page = client.get("/admin/").data.decode()
    assert "Count again now" in page  # the stored count is what is shown
    assert everything(client) == live


@pytest.mark.parametrize("weeks,months", [(1, 1), (2, 3), (26, 12), (53, 13), (104, 36)])
def test_window_of_a_snapshot_equals_the_reference(db, clock, world, weeks, months):
    """Snapshot.window(N) after a JSON round trip equals the reference functions for N."""
    at = clock.now()
    widest = snapshots.count(at, snapshots.MAX_WEEKS, snapshots.MAX_MONTHS, 3, 7)
    again = snapshots.Snapshot.from_json(widest.to_json())
    assert again == widest
    assert again.window(weeks, months) == snapshots.count(at, weeks, months, 3, 7)


def test_page_says_how_old_the_numbers_are(client, admin, login_as, world, db, clock, stored):
    """The age is shown; a payment after the count shows only once counted again; a count
    older than three job intervals is called out; "count again" counts now."""
    login_as(admin)
    count_now(db, clock)
    clock.advance(minutes=7)
    sub = world["subs"]["bob"]
    db.session.add(
        Payment(
            subscription_id=sub.id,
            txn_id="LATE1",
            status=PaymentStatus.COMPLETED,
            amount=Decimal("100.00"),
            currency="USD",
            paid_at=clock.now(),
            created_at=clock.now(),
        )
    )
    db.session.commit()
    page = client.get("/admin/").data.decode()
    assert "Counted at 2026-01-15 12:00 UTC, 7 minutes ago (counted again every 5 minutes)" in page
    assert "(as of 2026-01-15 12:00 UTC)" in page
    assert "older than the dashboard job should let them be" not in page
    revenue = rows_of(client, "revenue")
    assert revenue[-2] == ["2026-01-01", "premium-monthly", "USD", "3", "27.00", "9.00", "18.00"]
    r = client.get("/admin/dashboard/revenue.csv")
    assert "revenue-20260115-1200.csv" in r.headers["Content-Disposition"]

    clock.advance(minutes=10)  # 17 minutes: more than 3 x 5
    page = client.get("/admin/").data.decode()
    assert "These numbers are 17 minutes old, older than the dashboard job" in page

    r = client.post("/admin/dashboard/refresh", query_string={"weeks": 4})
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin/?weeks=4")
    page = client.get("/admin/", query_string={"weeks": 4}).data.decode()
    assert "Counted again: dashboard counted in" in page
    assert "Counted at 2026-01-15 12:17 UTC, under a minute ago" in page
    assert "older than the dashboard job" not in page
    revenue = rows_of(client, "revenue")
    assert revenue[-2] == ["2026-01-01", "premium-monthly", "USD", "4", "127.00", "9.00", "118.00"]
    assert db.session.query(DashboardSnapshot).count() == 2


def test_flags_are_counted_now(client, admin, login_as, world, db, clock, stored):
    """Resolving a flag shows at once, stored count or not."""
    from models import Flag

    login_as(admin)
    count_now(db, clock)
    for flag in db.session.query(Flag).filter(Flag.kind == "amount"):
        flag.resolved_at = clock.now()
    db.session.commit()
    assert [r[0] for r in rows_of(client, "flags")] == ["kind", '<b>&"x"', "'=SUM(A1)", "unclaimed"]


def test_small_data_and_missing_counts_are_counted_live(client, admin, login_as, world, db, clock):
    """Under DASHBOARD_LIVE_ROWS rows, or with no stored count, or one stored
    under other settings, the numbers are counted in the request (no "count again")."""
    login_as(admin)
    # The size is read from the highest ids: on PostgreSQL the session's sequences remember
    # rows earlier tests inserted (an export test's 40,000), so the limit is set, not assumed.
    client.application.config["DASHBOARD_LIVE_ROWS"] = 10**9
    count_now(db, clock)
    clock.advance(minutes=30)
    page = client.get("/admin/").data.decode()  # few rows: live, whatever is stored
    assert "Count again now" not in page and "Counted at 2026-01-15 12:30 UTC." in page
    client.application.config["DASHBOARD_LIVE_ROWS"] = 0
    assert "Count again now" in client.get("/admin/").data.decode()
    client.application.config["GRACE_DAYS"] = 5  # the stored count used 3
    page = client.get("/admin/").data.decode()
    assert "Count again now" not in page and "Counted at 2026-01-15 12:30 UTC." in page


def test_the_job_keeps_the_latest_counts(app, db, clock, world):
    """The scheduled job stores a count at its `now`, keeping the latest few."""
    job = next(j for j in JOBS if j.id == snapshots.JOB_ID)
    for _ in range(snapshots.KEEP_SNAPSHOTS + 2):
        assert job.func(clock.now()).startswith("dashboard counted in ")
        clock.advance(minutes=5)
    rows = db.session.query(DashboardSnapshot).order_by(DashboardSnapshot.computed_at).all()
    assert len(rows) == snapshots.KEEP_SNAPSHOTS
    assert rows[-1].computed_at == datetime(2026, 1, 15, 12, 20, tzinfo=UTC)
    latest = snapshots.latest(3, 7)
    assert latest is not None and latest.computed_at == rows[-1].computed_at
    assert snapshots.latest(4, 7) is None


def test_members_cannot_count_again(client, make_user, login_as, db):
    """The "count again" action is admin-only, as is the page."""
    assert client.post("/admin/dashboard/refresh").status_code == 302  # to the log-in page
    login_as(make_user())
    assert client.post("/admin/dashboard/refresh").status_code == 403
    assert db.session.query(DashboardSnapshot).count() == 0


def test_a_long_count_runs_in_the_background(client, admin, login_as, world, db, clock, stored):
    """When the last count took longer than DASHBOARD_REFRESH_INLINE_MS, "count again"
    answers at once and counts on a thread (under the job's lease)."""
    from gateway.admin import dashboard

    login_as(admin)
    count_now(db, clock)
    clock.advance(minutes=2)
    client.application.config["DASHBOARD_REFRESH_INLINE_MS"] = 0
    r = client.post("/admin/dashboard/refresh")
    assert r.status_code == 303
    assert dashboard.background is not None
    dashboard.background.join(timeout=30)
    page = client.get("/admin/").data.decode()
    assert "Counting in the background" in page
    assert "Counted at 2026-01-15 12:02 UTC, under a minute ago" in page
