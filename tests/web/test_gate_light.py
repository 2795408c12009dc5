"""The gated request path without an ORM instance: the read-only `Member` from the
per-process copy, the session cookie verified once, the kept nav and URLs, the header
list; none of it may weaken the gate."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from flask import Flask, g
from flask_login import current_user
from sqlalchemy import update

from gateway.fastpath.member_copy import COPY_SUFFICES, Copy, Member
from gateway.fastpath.session_cookie import SessionCookies
from gateway.subscriptions import admin_actions
from models import User
from tests.sql import statements_sent
from tests.web.test_gate import wait_until_trusted


@pytest.fixture
def premium(make_plan):
    return make_plan("premium-monthly", role="premium")


@pytest.fixture
def granted(db, admin, make_user, premium, clock):
    member = make_user("member@example.com")
    admin_actions.grant(admin, member, premium, clock.now() + timedelta(days=30), "t", clock.now())
    db.session.commit()
    return member


@pytest.fixture
def probe(app):
    """/_probe/light (marked: may get the Member) and /_probe/orm (not marked)."""
    seen: dict[str, object] = {}

    def light():
        seen["user"] = current_user._get_current_object()
        seen["hash"] = current_user.password_hash  # not from memory: the row is loaded
        seen["after"] = current_user._get_current_object()
        return "", 204

    def orm():
        seen["user"] = current_user._get_current_object()
        return "", 204

    setattr(light, COPY_SUFFICES, True)  # as kept_pages.kept_page marks its views
    app.add_url_rule("/_probe/light", view_func=light)
    app.add_url_rule("/_probe/orm", view_func=orm)
    return seen


@pytest.fixture
def users_seen(app):
    """The `current_user` each request ended with (registered before any request)."""
    users: list[object] = []

    @app.after_request
    def keep(response):
        users.append(g.get("_login_user"))
        return response

    return users


def test_gated_page_gets_the_read_only_member_and_no_query(
    app, db, granted, client, login_as, users_seen
):
    login_as(granted)
    client.get("/premium")
    wait_until_trusted(app)
    client.get("/premium")
    with statements_sent(db.engine) as statements:
        r = client.get("/premium")
    assert r.status_code == 200 and statements == []
    assert isinstance(users_seen[-1], Member) and users_seen[-1].id == granted.id


def test_member_is_read_only_and_never_holds_the_password_hash(app, db, granted):
    with app.test_request_context("/premium"):
        member = Member(Copy.of(granted, 0.0))
        assert "password_hash" not in Member.__slots__
        with pytest.raises(AttributeError):
            member.session_token = "forged"
        with pytest.raises(AttributeError):
            member.is_admin = True


def test_reading_anything_else_loads_the_row_from_the_database(
    app, db, granted, client, login_as, probe
):
    """The password hash comes from the database, changed behind our back included; from
    then on current_user is the ORM row itself."""
    login_as(granted)
    client.get("/premium")
    wait_until_trusted(app)
    client.get("/premium")
    db.session.execute(
        update(User).where(User.id == granted.id).values(password_hash="changed-elsewhere")
    )
    db.session.commit()
    # SQLite: that commit drops the copy; take it again so the probe is answered from memory.
    client.get("/premium")
    client.get("/premium")
    assert client.get("/_probe/light").status_code == 204
    if isinstance(probe["user"], Member):
        assert isinstance(probe["after"], User)  # upgraded for the rest of the request
    assert probe["hash"] == "changed-elsewhere"


def test_a_view_not_marked_gets_an_orm_user(app, db, granted, client, login_as, probe):
    login_as(granted)
    client.get("/premium")
    wait_until_trusted(app)
    client.get("/premium")
    assert client.get("/_probe/orm").status_code == 204
    assert isinstance(probe["user"], User)  # persistent: methods, relationships, add()


def test_account_pages_still_work_after_gated_requests(app, db, granted, client, login_as):
    login_as(granted)
    client.get("/premium")
    wait_until_trusted(app)
    assert client.get("/premium").status_code == 200
    assert client.get("/account").status_code == 200
    assert client.get("/auth/password").status_code == 200


def test_revocation_is_immediate_on_the_light_path(
    app, db, admin, granted, client, login_as, clock
):
    from models import Subscription

    login_as(granted)
    client.get("/premium")
    wait_until_trusted(app)
    for _ in range(3):
        assert client.get("/premium").status_code == 200
    sub = db.session.query(Subscription).filter_by(user_id=granted.id).one()
    admin_actions.revoke(admin, sub, "test", clock.now())
    db.session.commit()
    assert client.get("/premium").status_code == 403
    assert 'href="/premium"' not in _nav(client.get("/").text)


def test_a_rotated_session_token_logs_out_on_the_light_path(app, db, granted, client, login_as):
    from gateway.auth.sessions import end_other_sessions

    login_as(granted)
    client.get("/premium")
    wait_until_trusted(app)
    assert client.get("/premium").status_code == 200
    end_other_sessions(db.session.get(User, granted.id), keep_this_one=False)
    r = client.get("/premium")  # logged out: the preview and a way in
    assert r.status_code == 403 and "/auth/login?next=/premium" in r.text


def _nav(page: str) -> str:
    """The header's nav: it links the content the visitor may open (the page may list
    locked content too)."""
    return page.split("<nav>", 1)[1].split("</nav>", 1)[0]


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_nav_per_role_and_admin_and_fresh_csrf_token(
    app, db, admin, granted, client, login_as, new_client
):
    anonymous = new_client().get("/").text
    assert 'href="/auth/login"' in anonymous and "csrf_token" not in anonymous
    login_as(granted)
    page = client.get("/premium").text
    assert 'href="/premium"' in _nav(page) and 'href="/pro"' not in _nav(page)
    assert 'href="/admin/' not in page and 'action="/auth/logout"' in page
    token = _token(page)
    # The kept nav carries this session's token, which log-out accepts.
    r = client.post("/auth/logout", data={"csrf_token": token})
    assert r.status_code == 302
    assert 'href="/auth/login"' in client.get("/").text
    admin_page = login_as(admin, new_client()).get("/").text
    assert 'href="/admin/"' in admin_page and 'href="/premium"' in _nav(admin_page)  # sees all
    other = login_as(granted, new_client()).get("/premium").text
    other_token = _token(other)
    assert other_token != token  # per session, never the kept page's


def test_security_headers_kept_and_a_views_own_wins(app, client):
    @app.route("/_probe/own-csp")
    def own():
        return "", 200, {"Content-Security-Policy": "default-src 'none'"}

    r = client.get("/")
    for name in (
        "Content-Security-Policy",
        "X-Frame-Options",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "Cross-Origin-Opener-Policy",
    ):
        assert r.headers.getlist(name) and len(r.headers.getlist(name)) == 1
    assert "Strict-Transport-Security" not in r.headers
    assert client.get("/", base_url="https://localhost").headers["Strict-Transport-Security"]
    own_r = client.get("/_probe/own-csp")
    assert own_r.headers.getlist("Content-Security-Policy") == ["default-src 'none'"]


def _cookie_app(secret: str = "s" * 32) -> Flask:
    app = Flask("cookies")
    app.secret_key = secret
    app.session_interface = SessionCookies()

    @app.route("/set")
    def set_():
        from flask import session

        session["n"] = {"roles": ["a"], "v": 1}
        return ""

    @app.route("/get")
    def get_():
        from flask import session

        value = json.loads(json.dumps(dict(session)))
        session.get("n", {}).setdefault("mutated", True)  # must not reach the kept copy
        return {"session": value}

    return app


def _session(client) -> dict:
    answer = client.get("/get").json
    assert answer is not None
    return answer["session"]


def test_session_cookie_verified_once_but_still_checked():
    app = _cookie_app()
    client = app.test_client()
    client.get("/set")
    for _ in range(2):
        assert _session(client) == {"n": {"roles": ["a"], "v": 1}}
    # A tampered cookie is refused, kept copy or not.
    cookie = client.get_cookie("session")
    assert cookie is not None
    value = cookie.value
    client.set_cookie("session", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert _session(client) == {}
    # Expiry is checked on every hit.
    client.set_cookie("session", value)
    app.permanent_session_lifetime = timedelta(seconds=-1)
    assert _session(client) == {}
    # Another secret key: the kept cookie is not trusted.
    app.permanent_session_lifetime = timedelta(days=31)
    app.secret_key = "t" * 32
    assert _session(client) == {}


def test_shared_page_is_per_kind_of_visitor_with_each_sessions_token(
    app, db, admin, granted, premium, make_user, make_plan, client, login_as, new_client, clock
):
    """/premium is kept once per kind of visitor (gateway/fastpath/kept_pages.py): a
    member who also holds pro sees their own nav on it, every session its own token, and
    the stand-in for the token never reaches a page."""
    pro = make_plan("pro-monthly", role="pro")
    both = make_user("both@example.com")
    for plan in (pro, premium):
        admin_actions.grant(admin, both, plan, clock.now() + timedelta(days=30), "t", clock.now())
    db.session.commit()
    login_as(granted)
    pages = [client.get("/premium").text for _ in range(3)]
    other = login_as(both, new_client())
    other_pages = [other.get("/premium").text for _ in range(3)]
    assert all('href="/pro"' not in _nav(p) for p in pages)
    assert all('href="/pro"' in _nav(p) for p in other_pages)
    assert "\x00" not in "".join(pages + other_pages)
    assert {_token(p) for p in pages} != {_token(p) for p in other_pages}
    assert len({_token(p) for p in pages}) == 1  # the session's own, every time
    # Each token is the one its session's log-out accepts.
    assert (
        other.post("/auth/logout", data={"csrf_token": _token(other_pages[-1])}).status_code == 302
    )
    assert client.post("/auth/logout", data={"csrf_token": _token(pages[-1])}).status_code == 302


def test_shared_page_follows_a_change_of_roles(
    app, db, admin, granted, make_plan, client, login_as, clock
):
    pro = make_plan("pro-monthly", role="pro")
    login_as(granted)
    assert 'href="/pro"' not in _nav(client.get("/premium").text)
    admin_actions.grant(admin, granted, pro, clock.now() + timedelta(days=30), "t", clock.now())
    db.session.commit()
    assert 'href="/pro"' in _nav(client.get("/premium").text)


def test_shared_page_shows_flashed_messages_once(app, db, granted, client, login_as):
    login_as(granted)
    client.get("/premium")
    client.get("/premium")  # kept by now
    with client.session_transaction() as s:
        s["_flashes"] = [("info", "Your receipt is on its way.")]
    assert "Your receipt is on its way." in client.get("/premium").text
    later = client.get("/premium").text
    assert "Your receipt is on its way." not in later and "csrf_token" in later
