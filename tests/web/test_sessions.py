"""Sessions end when they should, guessing is bounded under concurrency, and unknown
e-mails cost the same time as known ones."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.factories import PASSWORD
from tests.servers import serve


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
