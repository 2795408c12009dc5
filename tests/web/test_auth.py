"""Register, log in, log out, change password, safe next, throttling, CSRF."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import func, select

from models import OutboxMail, User

PASSWORD = "correct horse battery"


def register(client, email, password="a long password"):
    return client.post(
        "/auth/register", data={"email": email, "password": password, "confirm": password}
    )


def test_register_creates_the_account_and_mails_it(client, db):
    """Does registering create a hashed-password account, mail it, and log no one in?"""
    r = register(client, "  New@Example.COM ")
    assert r.status_code == 200 and b"Check your e-mail" in r.data
    user = db.session.scalar(select(User).where(User.email == "new@example.com"))
    assert user is not None and user.password_hash != "a long password"
    (mail,) = db.session.scalars(select(OutboxMail)).all()
    assert mail.to_addr == "new@example.com" and "account is ready" in mail.subject
    assert client.get("/account").status_code == 302
    r = client.post("/auth/login", data={"email": "new@example.com", "password": "a long password"})
    assert r.status_code == 302 and client.get("/account").status_code == 200


@pytest.mark.parametrize(
    "data,message",
    [
        (
            {"email": "not-an-email", "password": "a long password", "confirm": "a long password"},
            b"Invalid email address",
        ),
        (
            {"email": "a@example.com", "password": "short", "confirm": "short"},
            b"Use 10 to 200 characters",
        ),
        (
            {"email": "a@example.com", "password": "a long password", "confirm": "another one!"},
            b"Passwords differ",
        ),
        ({"email": "", "password": "", "confirm": ""}, b"This field is required"),
    ],
)
def test_register_rejects_bad_input(client, data, message):
    """Is bad registration input answered with 400 and a clear message?"""
    r = client.post("/auth/register", data=data)
    assert r.status_code == 400
    assert message in r.data


def test_registering_a_taken_email_reveals_nothing(app, client, make_user, db):
    """Attack: can a stranger tell from the answer that an address has an account? The
    owner is mailed instead, the password is not changed, and no one is logged in."""
    owner = make_user("taken@example.com")
    old_hash = owner.password_hash
    stranger = app.test_client()
    taken = register(stranger, "TAKEN@example.com", "the attacker's one")
    fresh = register(app.test_client(), "fresh@example.com", "the attacker's one")

    def seen(r):  # what the attacker sees, less the address they typed themselves
        body = r.data.replace(b"taken@example.com", b"X").replace(b"fresh@example.com", b"X")
        body = re.sub(rb'name="csrf_token"[^>]*>', b"", body)
        cookies = sorted(h.split("=", 1)[0] for h in r.headers.getlist("Set-Cookie"))
        return r.status_code, body, cookies, r.headers.get("Location")

    assert seen(taken) == seen(fresh)
    assert stranger.get("/account").status_code == 302  # not logged in as the owner
    db.session.expire_all()
    assert db.session.get(User, owner.id).password_hash == old_hash
    mails = {m.to_addr: m for m in db.session.scalars(select(OutboxMail))}
    assert "tried to register" in mails["taken@example.com"].subject
    assert "log in" in mails["taken@example.com"].text_body
    assert "reset" in mails["taken@example.com"].text_body
    # Again within the minute: no second mail (no flooding the owner's inbox).
    assert register(stranger, "taken@example.com").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 2


def test_a_taken_email_takes_as_long_as_a_new_one(app, client, make_user):
    """Attack by timing: both paths hash the password and try the INSERT."""
    make_user("taken@example.com")
    app.config["PASSWORD_HASH_METHOD"] = "scrypt"  # a real, slow hash: its cost shows

    def timed(email):
        started = time.perf_counter()
        assert register(app.test_client(), email).status_code == 200
        return time.perf_counter() - started

    timed("warm@example.com")
    new = min(timed(f"new{i}@example.com") for i in range(3))
    taken = min(timed("taken@example.com") for _ in range(3))
    assert 0.5 < taken / new < 2, (taken, new)


def test_login_and_logout(client, make_user):
    """Can a member log in with the right password and log out with a POST?"""
    user = make_user("m@example.com")
    r = client.post("/auth/login", data={"email": "M@example.com", "password": PASSWORD})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert client.get("/account").status_code == 200
    assert client.get("/auth/logout").status_code == 405
    client.post("/auth/logout")
    assert client.get("/account").status_code == 302
    assert user.id


def test_wrong_password_is_401_with_message(client, make_user):
    """Does a wrong password give one message that does not reveal which part was wrong?"""
    make_user("m@example.com")
    for email in ("m@example.com", "nobody@example.com"):
        r = client.post("/auth/login", data={"email": email, "password": "wrong password"})
        assert r.status_code == 401
        assert b"Wrong e-mail or password." in r.data


@pytest.mark.parametrize(
    "target,expected",
    [
        ("/premium", "/premium"),
        ("/account?tab=1", "/account?tab=1"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_next_is_only_followed_on_site(client, make_user, target, expected):
    """Is `next` followed only to a path on this site?"""
    make_user("m@example.com")
    r = client.post(
        "/auth/login",
        query_string={"next": target},
        data={"email": "m@example.com", "password": PASSWORD},
    )
    assert r.headers["Location"] == expected


def test_throttle_delays_guessing_but_never_locks_the_owner_out(app, client, make_user, clock):
    """Past N failures from one address, that address waits 1, 2, 4 ... minutes (even with
    the right password); the owner on their own address logs in meanwhile."""
    make_user("m@example.com")
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]

    def attempt(browser, password):
        return browser.post("/auth/login", data={"email": "m@example.com", "password": password})

    for _ in range(limit):
        assert attempt(client, "nope nope").status_code == 401
    r = attempt(client, PASSWORD)
    assert r.status_code == 429 and b"Try again in 1 minute." in r.data
    owner = app.test_client()
    owner.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert attempt(owner, PASSWORD).status_code == 302  # not locked out
    clock.advance(minutes=1)
    assert attempt(client, "nope nope").status_code == 401  # one more guess, then longer
    assert b"Try again in 2 minutes." in attempt(client, PASSWORD).data
    clock.advance(minutes=2)
    assert attempt(client, PASSWORD).status_code == 302


def test_delays_grow_to_a_cap(app, client, make_user, clock):
    """The delay doubles per refused guess but never exceeds LOGIN_MAX_DELAY_MINUTES."""
    make_user("m@example.com")
    app.config.update(LOGIN_MAX_FAILURES_PER_ACCOUNT=1, LOGIN_MAX_DELAY_MINUTES=5)
    waits = []
    for _ in range(5):
        client.post("/auth/login", data={"email": "m@example.com", "password": "nope nope"})
        r = client.post("/auth/login", data={"email": "m@example.com", "password": "nope nope"})
        found = re.search(rb"Try again in (\d+) minute", r.data)
        assert found is not None, r.data
        waits.append(int(found.group(1)))
        clock.advance(minutes=waits[-1])
    assert waits == [1, 2, 4, 5, 5]


def test_throttle_per_address(app, client, make_user):
    """Does one address guessing many accounts get blocked, while others still log in?"""
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    make_user("m@example.com")
    for i in range(3):
        client.post("/auth/login", data={"email": f"x{i}@example.com", "password": "nope nope"})
    r = client.post("/auth/login", data={"email": "m@example.com", "password": PASSWORD})
    assert r.status_code == 429
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.9.9.9"
    assert (
        other.post("/auth/login", data={"email": "m@example.com", "password": PASSWORD}).status_code
        == 302
    )


def test_success_clears_account_counter(app, client, make_user):
    """Does a successful log-in reset the account's failure count?"""
    make_user("m@example.com")
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    for _ in range(limit - 1):
        client.post("/auth/login", data={"email": "m@example.com", "password": "nope nope"})
    client.post("/auth/login", data={"email": "m@example.com", "password": PASSWORD})
    client.post("/auth/logout")
    for _ in range(limit - 1):
        client.post("/auth/login", data={"email": "m@example.com", "password": "nope nope"})
    assert (
        client.post(
            "/auth/login", data={"email": "m@example.com", "password": PASSWORD}
        ).status_code
        == 302
    )


def test_change_password(client, db, make_user, login_as):
    """Can a member change their password, only by giving the current one?"""
    user = make_user("m@example.com")
    login_as(user)
    r = client.post(
        "/auth/password",
        data={"current": "wrong one!", "password": "new password 1", "confirm": "new password 1"},
    )
    assert r.status_code == 400 and b"not your current password" in r.data
    r = client.post(
        "/auth/password",
        data={"current": PASSWORD, "password": "new password 1", "confirm": "new password 1"},
    )
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password("new password 1")


def test_real_login_form_with_csrf(app, client, make_user):
    """With CSRF on, does the real form log in, and a post without the token fail?"""
    app.config["WTF_CSRF_ENABLED"] = True
    make_user("m@example.com")
    r = client.post("/auth/login", data={"email": "m@example.com", "password": PASSWORD})
    assert r.status_code == 400
    assert b"form expired" in r.data
    page = client.get("/auth/login").data.decode()
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert found is not None, page
    token = found.group(1)
    r = client.post(
        "/auth/login", data={"email": "m@example.com", "password": PASSWORD, "csrf_token": token}
    )
    assert r.status_code == 302
    assert client.get("/account").status_code == 200
    # Logging out also needs the token.
    assert client.post("/auth/logout").status_code == 400


def test_page_tokens_are_signed_once_and_still_checked(app, client, make_user, login_as):
    """The header's log-out token is reused from the process's cache: the same on every
    page of a session, another session's differs, and it still passes Flask-WTF's check
    (a forged one does not)."""
    app.config["WTF_CSRF_ENABLED"] = True
    user = make_user("m@example.com")
    login_as(user)

    def header_token(browser) -> str:
        page = browser.get("/account").data.decode()
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found is not None, page
        return found.group(1)

    first, second = header_token(client), header_token(client)
    assert first == second
    other = login_as(make_user("n@example.com"), browser=app.test_client())
    assert header_token(other) != first
    # A changed signature character: not the last one, whose low bits are base64 padding
    # (a change there can decode to the same signature: this test failed 1 run in ~200).
    forged = first[:-5] + ("A" if first[-5] != "A" else "B") + first[-4:]
    assert client.post("/auth/logout", data={"csrf_token": forged}).status_code == 400
    assert client.post("/auth/logout", data={"csrf_token": first}).status_code == 302


def test_csrf_is_checked_before_each_changing_request_and_no_page_view(
    app, client, make_user, login_as
):
    """The check before each request refuses a POST without a token to a view that has
    no form of its own (log-out), and never asks a page view (GET, HEAD) for one."""
    app.config["WTF_CSRF_ENABLED"] = True
    login_as(make_user("m@example.com"))
    assert client.get("/account").status_code == 200
    assert client.head("/account").status_code == 200
    assert client.post("/auth/logout").status_code == 400
    assert client.get("/account").status_code == 200  # still logged in


def test_flask_wtf_checks_before_requests_and_follows_its_switches(app, client):
    """Flask-WTF's own check runs before each request (once), and follows its switches as
    they are now: WTF_CSRF_CHECK_DEFAULT = False (checking by hand) means no check."""
    csrf_hooks = [f for f in app.before_request_funcs[None] if f.__module__ == "flask_wtf.csrf"]
    assert len(csrf_hooks) == 1
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post("/auth/logout").status_code == 400
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    assert client.post("/auth/logout").status_code == 302
