"""/metrics: off without a token, Bearer-protected, and counting what really happened."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from gateway import create_app
from gateway.billing.rules.statuses import Channel, NotificationStatus
from gateway.jobs import lease, runner
from gateway.jobs.registry import job_named
from gateway.paypal.postback import PostbackVerifier
from gateway.pipeline import intake
from gateway.records.flags import raise_flag
from models import Notification
from tests.conftest import CONFIG
from tests.factories import PASSWORD
from tests.inbox import process_due
from tests.paypal import ipn_builders as ipn
from tests.paypal.conftest import StubVerifier
from tests.servers import BOUND, serve

TOKEN = "metrics-token-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scrape(app, client):
    """Scrape /metrics with the right token; returns {(name, labels...): value}."""
    app.config["METRICS_TOKEN"] = TOKEN

    def get() -> dict[tuple, float]:
        r = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200, r.data
        assert r.headers["Content-Type"].startswith("text/plain; version=")
        return parse(r.get_data(as_text=True))

    return get


def parse(text: str) -> dict[tuple, float]:
    return {
        (s.name, *sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def key(name: str, **labels: str) -> tuple:
    return (name, *sorted(labels.items()))


# --- access -------------------------------------------------------------------------


def test_metrics_are_off_without_a_token(client):
    """No GATEWAY_METRICS_TOKEN: /metrics does not exist (404), token or not."""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong",
        f"Basic {TOKEN}",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
    ],
)
def test_a_missing_or_wrong_token_gets_401(app, client, header):
    """Anything but `Bearer <the token>` is refused, saying how to authenticate."""
    app.config["METRICS_TOKEN"] = TOKEN
    r = client.get("/metrics", headers={"Authorization": header} if header is not None else {})
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"tollgate_" not in r.data and "Set-Cookie" not in r.headers


def test_the_right_token_gets_the_metrics(scrape):
    """Every metric family is there from the first scrape."""
    names = {k[0] for k in scrape()}
    assert {
        "tollgate_postback_seconds_count",
        "tollgate_postback_errors_total",
        "tollgate_inbox_backlog",
        "tollgate_inbox_oldest_age_seconds",
        "tollgate_outbox_unsent",
        "tollgate_outbox_oldest_age_seconds",
        "tollgate_job_overdue",
        "tollgate_database_up",
    } <= names


# --- counters follow real events ----------------------------------------------------


def test_a_processed_ipn_counts_once(app, client, db, clock, make_plan, scrape):
    """An IPN through the pipeline (postback stubbed): ipn/processed goes up by exactly 1."""
    app.extensions["ipn_verifier"] = StubVerifier()
    make_plan("premium-monthly", role="premium", price="9.00")
    processed = key("tollgate_messages_total", channel="ipn", status="processed")
    latency = key("tollgate_message_processing_seconds_count", channel="ipn")
    before = scrape()
    body = ipn.signup("I-METRICS0001", clock.now())
    assert client.post("/paypal/ipn", data=body).status_code == 200
    clock.advance(seconds=3)
    assert process_due() == 1
    assert db.session.scalar(db.select(Notification.status)) == NotificationStatus.PROCESSED
    after = scrape()
    assert after[processed] - before.get(processed, 0) == 1
    assert after[latency] - before.get(latency, 0) == 1
    assert after[key("tollgate_message_processing_seconds_sum", channel="ipn")] == 3
    assert after[key("tollgate_message_processing_seconds_bucket", channel="ipn", le="5.0")] == 1
    assert after[key("tollgate_message_processing_seconds_bucket", channel="ipn", le="1.0")] == 0


def test_invalid_and_retried_ipns_are_counted_by_status(app, client, db, clock, scrape):
    """INVALID and an unclear answer (retry) each count under their own status."""
    stub = StubVerifier("INVALID")
    app.extensions["ipn_verifier"] = stub
    client.post("/paypal/ipn", data=ipn.signup("I-METRICS0002", clock.now()))
    process_due()
    stub.answer = "HTTP 500: 'oops'"
    client.post("/paypal/ipn", data=ipn.signup("I-METRICS0003", clock.now()))
    process_due()
    after = scrape()
    assert after[key("tollgate_messages_total", channel="ipn", status="invalid")] == 1
    assert after[key("tollgate_messages_total", channel="ipn", status="retry")] == 1
    assert key("tollgate_messages_total", channel="ipn", status="processed") not in after
    # Only a final status is a processing time: the retry is not observed.
    assert after[key("tollgate_message_processing_seconds_count", channel="ipn")] == 1


def test_postback_latency_and_errors(app, scrape):
    """A real postback that is answered counts its time; one that fails is an error too."""
    paypal = Flask("postback")
    paypal.add_url_rule("/", "pb", lambda: "VERIFIED", methods=["POST"])
    with serve(paypal) as url:
        assert PostbackVerifier(url, timeout=2).verify(b"a=1") == "VERIFIED"
    refused = PostbackVerifier("http://127.0.0.1:1/", timeout=2).verify(b"a=1")
    assert refused.startswith("connection failed")
    after = scrape()
    assert after[key("tollgate_postback_seconds_count")] == 2
    assert after[key("tollgate_postback_errors_total")] == 1


def test_job_runs_are_counted_by_job_and_outcome(app, clock, scrape):
    """Each recorded run counts under its job and outcome."""
    job = job_named(app.config, "expire-checkouts")
    lease.ensure((job,), clock.now())
    assert runner.tick(job, "test") is not None
    clock.advance(minutes=1)

    def broken(now):
        raise RuntimeError("boom")

    assert runner.tick(replace(job, func=broken), "test") is not None
    after = scrape()
    assert after[key("tollgate_job_runs_total", job="expire-checkouts", outcome="ok")] == 1
    assert after[key("tollgate_job_runs_total", job="expire-checkouts", outcome="failed")] == 1


def test_logins_and_failures_are_counted(app, client, make_user, scrape):
    """The real log-in form: a wrong password and a right one."""
    make_user("m@example.com")
    assert (
        client.post("/auth/login", data={"email": "m@example.com", "password": "no"}).status_code
        == 401
    )
    r = client.post("/auth/login", data={"email": "m@example.com", "password": PASSWORD})
    assert r.status_code == 302
    after = scrape()
    assert after[key("tollgate_logins_total", result="failure")] == 1
    assert after[key("tollgate_logins_total", result="success")] == 1


# --- gauges from the database -------------------------------------------------------


def test_backlog_flags_and_ages_come_from_the_database(app, db, clock, scrape):
    """Planted rows show in the gauges, whichever process is scraped."""
    now = clock.now()
    intake.store(Channel.IPN, b"a=1", {}, None, now - timedelta(minutes=15))
    intake.store(Channel.WEBHOOK, b"{}", {}, None, now - timedelta(minutes=2))
    raise_flag("amount", "t", now)
    raise_flag("amount", "t", now)
    db.session.commit()
    after = scrape()
    assert after[key("tollgate_inbox_backlog", status="pending")] == 2
    assert after[key("tollgate_inbox_backlog", status="deferred")] == 0
    assert after[key("tollgate_inbox_oldest_age_seconds")] == 900
    assert after[key("tollgate_last_message_age_seconds", channel="webhook")] == 120
    assert after[key("tollgate_flags_open", kind="amount")] == 2
    assert after[key("tollgate_job_overdue", job="drain-inbox")] == 1  # never ran
    assert after[key("tollgate_database_up")] == 1


def test_each_app_counts_on_its_own(app, db, tmp_path, migrated, scrape, client, make_user):
    """Two apps in one process (as in tests) share no counter and no registry."""
    other = create_app(CONFIG | {"SQLALCHEMY_DATABASE_URI": migrated}, instance_path=str(tmp_path))
    assert other.extensions["metrics"] is not app.extensions["metrics"]
    make_user("m@example.com")
    client.post("/auth/login", data={"email": "m@example.com", "password": "no"})
    other.config["METRICS_TOKEN"] = TOKEN
    r = other.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with other.app_context():
        db.engine.dispose()  # close its connection now, not at exit
    theirs = parse(r.get_data(as_text=True))
    assert key("tollgate_logins_total", result="failure") not in theirs
    assert scrape()[key("tollgate_logins_total", result="failure")] == 1


SCRIPT = """
import json, sys
from gateway import create_app
from gateway import metrics
app = create_app({"TESTING": True, "SECRET_KEY": "s" * 20, "METRICS_TOKEN": "t" * 20,
                  "SQLALCHEMY_DATABASE_URI": sys.argv[1]}, instance_path=sys.argv[2])
with app.app_context():
    metrics.login(False)
    r = app.test_client().get("/metrics", headers={"Authorization": "Bearer " + "t" * 20})
print(json.dumps(r.get_data(as_text=True)))
"""


def test_multiprocess_mode_adds_up_every_process(migrated, tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR, a scrape sees the counts of processes that have ended."""
    folder = tmp_path / "prom"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    texts = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", SCRIPT, migrated, str(tmp_path / f"i{n}")],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
                timeout=BOUND,  # killed if it hangs
            ).stdout
        )
        for n in (1, 2)
    ]
    failures = key("tollgate_logins_total", result="failure")
    assert parse(texts[0])[failures] == 1
    assert parse(texts[1])[failures] == 2  # the first process's count, kept in its file
    assert parse(texts[1])[key("tollgate_database_up")] == 1
