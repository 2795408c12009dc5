"""Health probes (/healthz, /readyz) and the admin status page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from gateway import create_app
from gateway.billing.rules.statuses import Channel, JobOutcome, NotificationStatus
from gateway.jobs.registry import jobs
from gateway.ops.health import config_problems
from gateway.ops.status import Heard, snapshot
from gateway.pipeline import intake
from gateway.records.flags import raise_flag
from models import JobRun, Notification, OutboxMail
from models import db as _db
from tests.conftest import CONFIG

# --- /healthz and /readyz --------------------------------------------------------------


@pytest.fixture
def app_on(tmp_path):
    """Apps on other databases; their connections are closed afterwards."""
    made = []

    def make(url: str):
        made.append(
            create_app(CONFIG | {"SQLALCHEMY_DATABASE_URI": url}, instance_path=str(tmp_path))
        )
        return made[-1]

    yield make
    for other in made:
        with other.app_context():
            _db.engine.dispose()


def test_healthz_answers_ok_without_a_session(client):
    """Does /healthz answer 200 {"status": "ok"} to anyone, setting no cookie?"""
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json == {"status": "ok"}
    assert "Set-Cookie" not in r.headers


UNREACHABLE = {
    "sqlite": "sqlite:///{tmp}/no-such-folder/db.sqlite",  # a file that cannot be opened
    "postgresql": "postgresql+psycopg://nobody@127.0.0.1:1/nothing",  # a closed port
}


@pytest.mark.parametrize("kind", sorted(UNREACHABLE))
def test_probes_answer_503_when_the_database_is_unreachable(app_on, tmp_path, kind):
    """Database down: 503 with a short reason, no stack trace, no connection string."""
    client = app_on(UNREACHABLE[kind].format(tmp=tmp_path)).test_client()
    r = client.get("/healthz")
    assert r.status_code == 503
    assert r.json == {"status": "error", "error": "database unreachable"}
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json == {
        "status": "error",
        "errors": ["database unreachable"],
    }
    for body in (client.get("/healthz").data, r.data):
        assert b"Traceback" not in body and b"nobody" not in body and b"sqlite" not in body
    assert "Set-Cookie" not in r.headers


def test_readyz_answers_ok_at_the_migration_head(client):
    """Migrated database, sane settings: ready."""
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json == {"status": "ok"}


def test_readyz_answers_503_when_the_schema_is_behind(app, client, db):
    """The database one migration behind the code: not ready, and says what to run."""
    scripts = ScriptDirectory(app.extensions["migrate"].directory)
    head = scripts.get_current_head()
    assert head is not None
    previous = scripts.get_revision(head).down_revision
    update = text("UPDATE alembic_version SET version_num = :v")
    with db.engine.begin() as conn:
        conn.execute(update, {"v": previous})
    try:
        r = client.get("/readyz")
    finally:
        with db.engine.begin() as conn:
            conn.execute(update, {"v": head})
    assert r.status_code == 503
    assert r.json["errors"] == [
        f"schema at revision {previous}, this code expects {head}: run `flask --app app db upgrade`"
    ]
    assert client.get("/readyz").status_code == 200


def test_readyz_answers_503_on_a_database_never_migrated(app_on, tmp_path):
    """An empty database (no alembic_version at all) is not ready either."""
    client = app_on(f"sqlite:///{tmp_path / 'empty.sqlite'}").test_client()
    assert client.get("/healthz").status_code == 200
    r = client.get("/readyz")
    assert r.status_code == 503
    problem = "schema not migrated: run `flask --app app db upgrade`"
    assert r.json == {"status": "error", "errors": [problem]}


def test_readyz_answers_503_on_contradicting_settings(app, client):
    """Settings that start the app but cannot work make it not ready."""
    app.config.update(MAIL_USE_TLS=True, MAIL_USE_SSL=True)
    r = client.get("/readyz")
    assert r.status_code == 503
    problem = "GATEWAY_MAIL_USE_TLS and GATEWAY_MAIL_USE_SSL are both set"
    assert r.json == {"status": "error", "errors": [problem]}


def test_readyz_wants_public_url_outside_the_demo(app, client):
    """Outside the demo, a missing PUBLIC_URL (mails from jobs need it) is not ready."""
    app.config.update(
        PAYPAL_MODE="live",
        PAYPAL_BUSINESS="shop@example.org",
        PUBLIC_URL="",
        RECEIPT_SELLER_NAME="Shop Ltd",
    )
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json["errors"][0].startswith("GATEWAY_PUBLIC_URL")
    app.config["PUBLIC_URL"] = "https://members.example.org"
    assert client.get("/readyz").status_code == 200


def test_readyz_wants_a_seller_name_outside_the_demo(app, client):
    """Outside the demo, receipts that name no seller cannot be filed: not ready; the
    demo (sim) is ready without one."""
    app.config.update(
        PAYPAL_MODE="sandbox",
        PAYPAL_BUSINESS="shop@example.org",
        PUBLIC_URL="https://members.example.org",
        RECEIPT_SELLER_NAME="  ",
    )
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json["errors"] == [
        "GATEWAY_RECEIPT_SELLER_NAME is not set: receipts would name no seller"
    ]
    app.config["RECEIPT_SELLER_NAME"] = "Shop Ltd"
    assert client.get("/readyz").status_code == 200
    app.config.update(PAYPAL_MODE="sim", RECEIPT_SELLER_NAME="")
    assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize(
    "change,problem",
    [
        ({"JOB_INTERVALS": {"no-such-job": 5}}, "GATEWAY_JOB_INTERVALS names a job"),
        (
            {
                "PAYPAL_MODE": "live",
                "PUBLIC_URL": "https://members.test",
                "RECEIPT_SELLER_NAME": "Shop Ltd",
            },
            "GATEWAY_PAYPAL_BUSINESS is still the example address",
        ),
        (
            {
                "PAYPAL_MODE": "sandbox",
                "PAYPAL_BUSINESS": "shop@example.org",
                "RECEIPT_SELLER_NAME": "Shop Ltd",
            },
            "GATEWAY_PUBLIC_URL is not set",
        ),
        (
            {
                "PAYPAL_MODE": "live",
                "PAYPAL_BUSINESS": "shop@example.org",
                "PUBLIC_URL": "https://members.test",
            },
            "GATEWAY_RECEIPT_SELLER_NAME is not set",
        ),
        ({"STATUS_QUIET_HOURS": 0}, "GATEWAY_STATUS_QUIET_HOURS must be a positive number"),
        ({"STATUS_BACKLOG_MINUTES": "x"}, "GATEWAY_STATUS_BACKLOG_MINUTES must be a positive"),
        ({"STATUS_JUNK_PER_HOUR": 0}, "GATEWAY_STATUS_JUNK_PER_HOUR must be a positive"),
        ({"INBOX_JUNK_KEEP_HOURS": -1}, "GATEWAY_INBOX_JUNK_KEEP_HOURS must be a number"),
        ({"STATUS_INVALID_PER_HOUR": -1}, "GATEWAY_STATUS_INVALID_PER_HOUR must be a positive"),
        ({"DEFERRED_FLAG_AFTER_HOURS": ""}, "GATEWAY_DEFERRED_FLAG_AFTER_HOURS must be a positive"),
        ({"PAYPAL_WEBHOOK_MAX_SKEW_HOURS": 0}, "GATEWAY_PAYPAL_WEBHOOK_MAX_SKEW_HOURS must be"),
        ({"SECRET_KEY": "dev-insecure-change-me"}, "GATEWAY_SECRET_KEY is not set"),
    ],
)
def test_config_problems(app, change, problem):
    """Is each unworkable setting named (and the defaults found sane)?"""
    assert config_problems(app.config, debug_or_testing=False) == []
    found = config_problems({**app.config, **change}, debug_or_testing=False)
    assert len(found) == 1 and found[0].startswith(problem)


# --- the admin status page ----------------------------------------------------------


def run(db, job: str, started, outcome=JobOutcome.OK, summary="done"):
    finished = None if outcome is JobOutcome.RUNNING else started + timedelta(seconds=1)
    db.session.add(
        JobRun(
            job=job,
            owner="test",
            started_at=started,
            finished_at=finished,
            outcome=outcome,
            summary=summary,
        )
    )
    db.session.commit()


def all_jobs_ran(app, db, at, but=()):
    for job in jobs(app.config):
        if job.id not in but:
            run(db, job.id, at)


def message(db, channel: Channel, at, status=NotificationStatus.PROCESSED) -> int:
    note_id = intake.store(channel, b"txn_type=subscr_payment", {}, "127.0.0.1", at)
    db.session.get(Notification, note_id).status = status
    db.session.commit()
    return note_id


def test_status_page_is_for_admins_only(client, make_user, login_as):
    """Anonymous -> log-in page; a member -> 403."""
    r = client.get("/admin/status")
    assert r.status_code == 302 and "/auth/login" in r.headers["Location"]
    login_as(make_user("member@example.com"))
    assert client.get("/admin/status").status_code == 403


def test_a_quiet_healthy_system_has_no_warnings(app, db, clock, client, login_as, admin):
    """Every job ran just now and PayPal spoke an hour ago: nothing to warn about."""
    all_jobs_ran(app, db, clock.now() - timedelta(seconds=1))
    message(db, Channel.IPN, clock.now() - timedelta(hours=1))
    s = snapshot(clock.now(), app.config)
    assert s.warnings == ()
    assert not any(j.overdue for j in s.jobs)
    login_as(admin)
    page = client.get("/admin/status")
    assert page.status_code == 200 and b"Nothing needs attention." in page.data


def test_status_page_shows_backlog_overdue_jobs_flags_and_outbox(
    app, db, clock, client, login_as, admin
):
    """Planted trouble: an old pending IPN, a late job, a failed job, open flags, mail."""
    now = clock.now()
    all_jobs_ran(app, db, now - timedelta(seconds=1), but=("expire-checkouts", "access-notices"))
    run(db, "expire-checkouts", now - timedelta(hours=2))  # every minute: late
    run(db, "access-notices", now - timedelta(minutes=1), JobOutcome.FAILED, "SMTPError: no")
    message(db, Channel.IPN, now - timedelta(days=2), NotificationStatus.DEFERRED)
    message(db, Channel.WEBHOOK, now - timedelta(hours=3))
    message(db, Channel.IPN, now - timedelta(minutes=30), NotificationStatus.PENDING)
    message(db, Channel.IPN, now - timedelta(minutes=5), NotificationStatus.RETRY)
    for kind in ("amount", "amount", "receiver"):
        raise_flag(kind, "test", now)
    raise_flag("receiver", "resolved", now).resolved_at = now  # type: ignore[union-attr]
    db.session.add(
        OutboxMail(
            key="k1",
            to_addr="m@example.com",
            subject="s",
            text_body="t",
            html_body="h",
            created_at=now - timedelta(minutes=40),
            next_attempt_at=now,
        )
    )
    db.session.commit()

    s = snapshot(now, app.config)
    assert (s.inbox.pending, s.inbox.retry, s.inbox.deferred) == (1, 1, 1)
    assert s.inbox.oldest_at == now - timedelta(minutes=30)  # deferred ones do not count
    assert s.heard == {
        Channel.IPN: Heard(now - timedelta(minutes=5)),
        Channel.WEBHOOK: Heard(now - timedelta(hours=3)),
    }
    assert s.flags == {"amount": 2, "receiver": 1} and s.flags_open == 3
    assert (s.outbox.unsent, s.outbox.oldest_at) == (1, now - timedelta(minutes=40))
    overdue = {j.id: j.problem for j in s.jobs if j.overdue}
    assert overdue == {
        "expire-checkouts": "has not run for 119 min (it runs every 60 s)",
        "access-notices": "failed in its last run",
    }
    assert s.warnings == (
        "Job expire-checkouts has not run for 119 min (it runs every 60 s).",
        "Job access-notices failed in its last run.",
        "2 PayPal message(s) wait to be processed; the oldest arrived 30 min ago "
        "(warning after 10 min).",
    )  # no outbox warning: without MAIL_SERVER mails stay in the outbox by design

    login_as(admin)
    html = client.get("/admin/status").get_data(as_text=True)
    for w in s.warnings:
        assert w.replace("'", "&#39;") in html
    assert "SMTPError: no" in html and "overdue" in html
    assert ">3</a>" in html  # open flags, linked to the flags page


def test_open_flags_and_unsent_mail_are_never_nothing(app, db, clock, client, login_as, admin):
    """With jobs healthy but 10 open flags and 13 unsent mails (2 failed), does the page
    list both, with counts and links, instead of "Nothing needs attention"?"""
    now = clock.now()
    all_jobs_ran(app, db, now - timedelta(seconds=1))
    message(db, Channel.IPN, now - timedelta(hours=1))
    for i in range(10):
        raise_flag("amount" if i < 7 else "receiver", f"test {i}", now)
    for i in range(13):
        db.session.add(
            OutboxMail(
                key=f"k{i}",
                to_addr="m@example.com",
                subject="s",
                text_body="t",
                html_body="h",
                created_at=now - timedelta(minutes=i),
                next_attempt_at=now,
                attempts=1 if i < 2 else 0,
                last_error="SMTPError: no" if i < 2 else None,
            )
        )
    db.session.commit()
    s = snapshot(now, app.config)
    assert s.warnings == () and (s.outbox.unsent, s.outbox.failed) == (13, 2)
    login_as(admin)
    html = client.get("/admin/status").get_data(as_text=True)
    assert "Nothing needs attention" not in html
    assert '<a href="/admin/flags">10 open flag(s) (7 amount, 3 receiver).</a>' in html
    assert "13 mail(s) unsent, 2 of them failed" in html and 'href="/admin/outbox"' in html


def test_warnings_for_silence_stuck_jobs_and_unsent_mail(app, db, clock):
    """No PayPal message for a day, a run past its time limit, SMTP not keeping up."""
    now = clock.now()
    all_jobs_ran(app, db, now - timedelta(seconds=1), but=("send-mail",))
    run(db, "send-mail", now - timedelta(minutes=11), JobOutcome.RUNNING)  # limit 10 min
    message(db, Channel.IPN, now - timedelta(hours=25))
    db.session.add(
        OutboxMail(
            key="k2",
            to_addr="m@example.com",
            subject="s",
            text_body="t",
            html_body="h",
            created_at=now - timedelta(minutes=15),
            next_attempt_at=now,
        )
    )
    db.session.commit()
    app.config["MAIL_SERVER"] = "smtp.example.com"
    assert snapshot(now, app.config).warnings == (
        "Job send-mail has been running for 11 min, past its time limit.",
        "No PayPal message (IPN or webhook) has arrived for 25 h (warning after 24 h).",
        "1 mail(s) unsent; the oldest was queued 15 min ago.",
    )
    app.config["STATUS_QUIET_HOURS"] = 26
    assert len(snapshot(now, app.config).warnings) == 2


def test_a_fresh_install_warns_that_nothing_has_run(app, clock):
    """No scheduler has ever run and PayPal has never called: both are said."""
    s = snapshot(clock.now(), app.config)
    assert all(j.problem == "has never run (is a scheduler running?)" for j in s.jobs)
    assert s.warnings[-1] == "No PayPal message (IPN or webhook) has ever arrived."


def test_a_channel_quiet_for_long_is_not_searched_for_in_the_whole_inbox(
    app, db, clock, monkeypatch, client, login_as, admin
):
    """Only the newest messages are searched: older is reported as "more than"."""
    monkeypatch.setattr("gateway.ops.status.LOOKBACK", 2)
    now = clock.now()
    all_jobs_ran(app, db, now - timedelta(seconds=1))
    message(db, Channel.IPN, now - timedelta(hours=40))
    for hours in (30, 26, 1):
        message(db, Channel.API, now - timedelta(hours=hours))  # our own asking
    s = snapshot(now, app.config)
    assert s.heard == {
        Channel.IPN: Heard(now - timedelta(hours=26), before=True),
        Channel.WEBHOOK: Heard(None),
    }
    assert s.warnings == (
        "No PayPal message (IPN or webhook) has arrived for more than 26 h (warning after 24 h).",
    )
    login_as(admin)
    html = client.get("/admin/status").get_data(as_text=True)
    assert "before 2026-01-14 10:00 UTC" in html and "not among the newest 2 messages" in html
