"""The gate without a query: a change of a member's access reaches every process on its
next request (PostgreSQL: NOTIFY; SQLite: data_version), and a process that cannot be
sure reads the database."""

from __future__ import annotations

import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import text, update
from sqlalchemy.engine import make_url

from gateway.auth.sessions import end_other_sessions
from gateway.subscriptions import admin_actions
from models import User
from tests.factories import PASSWORD
from tests.servers import BOUND, started
from tests.smtp import free_port
from tests.sql import statements_sent
from tests.web.test_gate import wait_until_trusted


@pytest.fixture
def premium(make_plan):
    return make_plan("premium-monthly", role="premium")


@pytest.fixture
def granted(db, admin, make_user, premium, clock):
    """A member with access for 30 days, on the test's clock and on the wall clock (the
    second process below runs on the wall clock)."""
    member = make_user("member@example.com")
    until = max(clock.now(), datetime.now(UTC)) + timedelta(days=30)
    admin_actions.grant(admin, member, premium, until, "t", clock.now())
    db.session.commit()
    return member


@pytest.fixture
def other_process(app):
    """The app served by a second Python process on the same database."""
    port = free_port()
    command = [sys.executable, "-m", "tests.web.gate_server"]
    with started([*command, app.config["SQLALCHEMY_DATABASE_URI"], str(port)]) as process:
        process.wait_for("serving")
        yield f"http://127.0.0.1:{port}"


def until(check, seconds: float = BOUND) -> float:
    """Seconds until `check()` held (polled); fails after `seconds`."""
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        if check():
            return time.monotonic() - began
        time.sleep(0.02)
    raise AssertionError(f"not within {seconds} s")


@pytest.mark.postgres_only
@pytest.mark.parametrize("change", ["revoke", "log out everywhere"])
def test_a_change_reaches_another_process_within_a_second(
    app, db, admin, granted, other_process, clock, change
):
    browser = requests.Session()
    assert browser.get(f"{other_process}/_test/login/{granted.id}").status_code == 204
    until(lambda: browser.get(f"{other_process}/_test/gate").json()["trusted"])
    for _ in range(3):  # answered from that process's copy
        assert browser.get(f"{other_process}/premium", allow_redirects=False).status_code == 200
    assert browser.get(f"{other_process}/_test/gate").json()["copies"] == 1

    member = db.session.get(User, granted.id)
    if change == "revoke":
        sub = member_sub(db, member)
        admin_actions.revoke(admin, sub, "chargeback elsewhere", clock.now())
        db.session.commit()
        expected = 403
    else:
        end_other_sessions(member, keep_this_one=False)
        expected = 403  # logged out: the preview and a way in
    took = until(
        lambda: (
            browser.get(f"{other_process}/premium", allow_redirects=False).status_code == expected
        ),
        1.0,
    )
    assert took < 1.0


@pytest.mark.postgres_only
def test_a_log_out_reaches_another_process_within_a_second(app, granted, client, other_process):
    """A plain log-out in this process: another process, answering the member from its
    copy, refuses a copy of the cookie within a second; the member's phone stays in."""
    laptop, phone = requests.Session(), requests.Session()
    for browser in (laptop, phone):
        r = browser.post(
            f"{other_process}/auth/login",
            data={"email": granted.email, "password": PASSWORD},
            allow_redirects=False,
        )
        assert r.status_code == 302
    until(lambda: laptop.get(f"{other_process}/_test/gate").json()["trusted"])
    stolen = laptop.cookies["session"]

    def replayed() -> int:
        return requests.get(
            f"{other_process}/premium", cookies={"session": stolen}, allow_redirects=False
        ).status_code

    for _ in range(3):  # answered from that process's copy
        assert replayed() == 200 and phone.get(f"{other_process}/premium").status_code == 200
    # The laptop logs out through this process (same address and User-Agent: same session).
    client.set_cookie("session", stolen)
    agent = {"User-Agent": laptop.headers["User-Agent"]}
    assert client.post("/auth/logout", headers=agent).status_code == 302
    assert until(lambda: replayed() == 403, 1.0) < 1.0
    assert phone.get(f"{other_process}/premium", allow_redirects=False).status_code == 200


def member_sub(db, member):
    from models import Subscription

    return db.session.query(Subscription).filter_by(user_id=member.id).one()


@pytest.mark.postgres_only
def test_a_lost_listener_falls_back_to_the_database(app, db, granted, client, login_as):
    """Kill the listener's connection: until it is back, every request reads the database,
    so a change it never heard of (a raw UPDATE, no notice) still counts at once."""
    login_as(granted)
    assert client.get("/premium").status_code == 200
    wait_until_trusted(app)
    watcher = app.extensions["gate_cache"].watcher
    with db.engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": watcher.backend_pid})
    until(lambda: not watcher.trusted())
    # No NOTIFY: only reading the database can notice this.
    db.session.execute(update(User).where(User.id == granted.id).values(session_token="rotated"))
    db.session.commit()
    with statements_sent(db.engine) as statements:
        r = client.get("/premium")  # logged out: the preview and a way in
    assert r.status_code == 403 and "/auth/login?next=/premium" in r.text
    assert any("FROM users" in s for s in statements)
    until(watcher.trusted)  # it reconnects by itself


def test_sqlite_notices_another_connections_commit(app, db, granted, client, login_as):
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite" or not url.database:
        pytest.skip("SQLite's data_version")
    login_as(granted)
    for _ in range(2):
        assert client.get("/premium").status_code == 200
    # Another process on this host changes the row behind SQLAlchemy's back.
    other = sqlite3.connect(url.database)
    other.execute("UPDATE users SET session_token = 'elsewhere' WHERE id = ?", (granted.id,))
    other.commit()
    other.close()
    r = client.get("/premium")  # logged out: the preview and a way in
    assert r.status_code == 403 and "/auth/login?next=/premium" in r.text


def test_the_copy_is_dropped_when_access_changes_in_this_process(
    app, db, admin, granted, client, login_as, clock
):
    login_as(granted)
    assert client.get("/premium").status_code == 200
    wait_until_trusted(app)
    assert client.get("/premium").status_code == 200
    admin_actions.revoke(admin, member_sub(db, granted), "test", clock.now())
    db.session.commit()
    assert client.get("/premium").status_code == 403
