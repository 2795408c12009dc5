"""Sessions end when they should, guessing is bounded under concurrency, and unknown
e-mails cost the same time as known ones."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from gateway.auth.sessions import SID_KEY, digest
from gateway.jobs import tasks
from gateway.subscriptions import admin_actions
from models import EndedSession
from tests.factories import PASSWORD
from tests.servers import serve
from tests.sql import statements_sent
from tests.web.test_gate import wait_until_trusted


def log_in(client, email="m@example.com", password=PASSWORD):
    return client.post("/auth/login", data={"email": email, "password": password})


def copy_cookies(app, client):
    """A second browser holding a copy of `client`'s cookies (a stolen session)."""
    thief = app.test_client()
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    thief.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    return thief


@pytest.mark.parametrize("ending", ["password change", "log out everywhere"])
def test_a_copied_cookie_dies_with_the_session(app, client, make_user, ending):
    """A stolen session cookie stops working after a password change or "log out everywhere"."""
    make_user("m@example.com")
    assert log_in(client).status_code == 302
    thief = copy_cookies(app, client)
    assert thief.get("/account").status_code == 200  # the stolen cookie works today
    if ending == "password change":
        r = client.post(
            "/auth/password",
            data={"current": PASSWORD, "password": "a new long one!", "confirm": "a new long one!"},
        )
        assert r.status_code == 302
        assert client.get("/account").status_code == 200  # the owner's session goes on
    else:
        assert client.post("/auth/logout-everywhere").status_code == 302
        assert client.get("/account").status_code == 302  # this one ended too
    assert thief.get("/account").status_code == 302  # sent to the log-in page


@pytest.fixture
def granted(db, admin, make_user, make_plan, clock):
    """A member who may open /premium (tests/site_content/premium.md)."""
    member = make_user("m@example.com")
    plan = make_plan("premium-monthly", role="premium")
    admin_actions.grant(admin, member, plan, clock.now() + timedelta(days=30), "t", clock.now())
    db.session.commit()
    return member


def cookie_of(app, client):
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    return cookie.value


def replay(app, value):
    """A fresh browser sending `value` as its session cookie (each replay starts from the
    copy as taken: an answer that empties the cookie does not help the next one)."""
    thief = app.test_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], value)
    return thief


def gate_check(browser, uri="/premium"):
    return browser.get("/gate/check", headers={"X-Forwarded-Uri": uri, "X-Forwarded-Method": "GET"})


def warm(app, browser):
    """Requests until this process answers `browser` from memory (when it can)."""
    browser.get("/premium")
    if app.extensions["gate_cache"] is not None:
        wait_until_trusted(app)
    for _ in range(2):
        browser.get("/premium")
        gate_check(browser)


#: Log-out with the member copy and the fast forward check on; with the fast check off;
#: with the copy off (every request reads the member's row).
SETTINGS = pytest.mark.parametrize(
    "app",
    [{}, {"FASTPATH_OFF": ("forward_check",)}, {"GATE_CACHE_SECONDS": 0}],
    indirect=True,
    ids=["fast", "view", "no-copy"],
)


@SETTINGS
def test_a_copied_cookie_dies_with_a_plain_log_out(app, db, client, granted):
    """The attack of #23: a copy of the cookie taken before log-out, replayed after it, opens
    nothing: not /account, not a content page, not the forward check, even where this
    process would answer it from memory."""
    assert log_in(client).status_code == 302
    stolen = cookie_of(app, client)
    warm(app, replay(app, stolen))
    # Before log-out the copy works everywhere (so the refusals below are the log-out's).
    assert replay(app, stolen).get("/account").status_code == 200
    assert replay(app, stolen).get("/premium").status_code == 200
    assert gate_check(replay(app, stolen)).status_code == 200

    assert client.post("/auth/logout").status_code == 302
    assert client.get("/account").status_code == 302
    # The member's copy is taken again (another request of theirs), with the ended session.
    second = app.test_client()
    assert log_in(second).status_code == 302
    warm(app, second)

    assert replay(app, stolen).get("/account").status_code == 302  # to the log-in page
    r = replay(app, stolen).get("/premium")
    assert r.status_code == 403 and b"Log in" in r.data
    assert gate_check(replay(app, stolen)).status_code == 401
    thief = replay(app, stolen)
    assert thief.get("/premium").status_code == 403
    assert thief.get_cookie(app.config["SESSION_COOKIE_NAME"]) is None  # emptied: no re-signing
    [ended] = db.session.scalars(select(EndedSession)).all()
    assert ended.user_id == granted.id and len(ended.digest) == 64  # a digest, not the id


@SETTINGS
def test_a_plain_log_out_leaves_the_members_other_browsers_logged_in(app, db, client, granted):
    laptop, phone = client, app.test_client()
    assert log_in(laptop).status_code == 302 and log_in(phone).status_code == 302
    warm(app, laptop)
    assert phone.post("/auth/logout").status_code == 302
    assert phone.get("/account").status_code == 302
    assert laptop.get("/account").status_code == 200
    assert laptop.get("/premium").status_code == 200
    assert gate_check(laptop).status_code == 200
    if app.extensions["gate_cache"] is not None:
        warm(app, laptop)
        with statements_sent(db.engine) as statements:  # the copy knows the ended session
            assert laptop.get("/premium").status_code == 200
            assert gate_check(laptop).status_code == 200
        assert statements == []


@SETTINGS
def test_log_out_everywhere_still_ends_every_browser(app, client, granted):
    laptop, phone = client, app.test_client()
    assert log_in(laptop).status_code == 302 and log_in(phone).status_code == 302
    stolen = cookie_of(app, phone)
    warm(app, laptop)
    assert laptop.post("/auth/logout-everywhere").status_code == 302
    for browser in (laptop, phone, replay(app, stolen)):
        assert browser.get("/account").status_code == 302
        assert gate_check(browser).status_code == 401


@SETTINGS
def test_a_session_from_before_session_ids_is_ended_by_its_log_out(app, db, client, granted):
    """A session logged in before this change has no id: its log-out rotates the token."""
    assert log_in(client).status_code == 302
    with client.session_transaction() as sess:
        del sess[SID_KEY]
    stolen = cookie_of(app, client)
    warm(app, replay(app, stolen))
    assert replay(app, stolen).get("/account").status_code == 200
    assert client.post("/auth/logout").status_code == 302
    assert replay(app, stolen).get("/account").status_code == 302
    assert replay(app, stolen).get("/premium").status_code == 403
    assert gate_check(replay(app, stolen)).status_code == 401
    assert db.session.scalars(select(EndedSession)).all() == []


def test_ended_sessions_are_forgotten_once_their_cookies_are_too_old(app, db, client, granted):
    """A cookie older than PERMANENT_SESSION_LIFETIME is refused for its age: its ended
    row may go then, and not before."""
    assert log_in(client).status_code == 302
    with client.session_transaction() as sess:
        sid = sess[SID_KEY]
    assert client.post("/auth/logout").status_code == 302
    [ended] = db.session.scalars(select(EndedSession)).all()
    assert ended.digest == digest(sid)
    oldest_cookie = ended.ended_at + app.permanent_session_lifetime
    assert tasks.forget_ended_sessions(oldest_cookie) == "0 ended session(s) forgotten"
    assert db.session.get(EndedSession, ended.digest) is not None
    later = oldest_cookie + timedelta(seconds=1)
    assert tasks.forget_ended_sessions(later) == "1 ended session(s) forgotten"
    db.session.expire_all()
    assert db.session.scalars(select(EndedSession)).all() == []


def test_logging_in_starts_a_fresh_session(app, client, make_user):
    """Whatever a planted session held before log-in is gone after it (no fixation)."""
    make_user("m@example.com")
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
    assert log_in(client).status_code == 302
    with client.session_transaction() as sess:
        assert "planted" not in sess


def test_admins_land_on_the_admin_home(client, admin):
    """After log-in an admin goes to the admin tables, a member to the member home."""
    r = log_in(client, admin.email)
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/")


def test_unknown_and_known_emails_take_the_same_time(app, client, make_user):
    """A wrong password for a real account costs what an unknown e-mail costs."""
    app.config["PASSWORD_HASH_METHOD"] = "pbkdf2:sha256:300000"  # a real hash's cost
    user = make_user("m@example.com")
    user.set_password(PASSWORD, app.config["PASSWORD_HASH_METHOD"])
    from models import db

    db.session.commit()
    app.config.update(LOGIN_MAX_FAILURES_PER_ACCOUNT=100, LOGIN_MAX_FAILURES_PER_ADDRESS=100)

    def fastest(email):
        times = []
        for _ in range(4):
            start = time.perf_counter()
            assert log_in(client, email, "wrong password").status_code == 401
            times.append(time.perf_counter() - start)
        return min(times)

    known, unknown = fastest("m@example.com"), fastest("nobody@example.com")
    assert 0.5 < unknown / known < 2.0, (known, unknown)


@pytest.mark.postgres_only
def test_fifty_simultaneous_guesses_get_only_the_limit_checked(app, make_user):
    """50 concurrent wrong guesses: exactly LOGIN_MAX_FAILURES_PER_ACCOUNT are checked."""
    make_user("m@example.com")
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    codes, barrier = [], threading.Barrier(50)
    with serve(app) as url:

        def guess():
            barrier.wait()
            codes.append(
                requests.post(
                    f"{url}/auth/login",
                    timeout=20,
                    data={"email": "m@example.com", "password": "nope nope"},
                ).status_code
            )

        threads = [threading.Thread(target=guess) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(codes) == [401] * limit + [429] * (50 - limit)
