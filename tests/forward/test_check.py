"""`/gate/check` in-process: what a proxy is answered for each kind of visitor, the
headers it must send, the callers it must come from, tokens, and the SQL it costs."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.access_rules import forwarded as original
from gateway.subscriptions import admin_actions
from gateway.tokens import service as tokens
from models.token import API
from tests.sql import statements_sent
from tests.web.test_gate import wait_until_trusted

from .conftest import SITE

#: Every test twice: with the fast check (gateway/fastpath/forward_check.py) answering
#: what it can, and with every check through Flask's view: the answers must not differ.
pytestmark = pytest.mark.parametrize(
    "app", [{}, {"FASTPATH_OFF": ("forward_check",)}], indirect=True, ids=["fast", "view"]
)


@pytest.fixture
def member(make_user):
    return make_user("member@example.com")


@pytest.fixture
def premium(make_plan):
    return make_plan("premium-monthly", role="premium", price="9.00")


def grant(db, admin, member, plan, clock, days=30):
    sub = admin_actions.grant(
        admin, member, plan, clock.now() + timedelta(days=days), "test grant", clock.now()
    )
    db.session.commit()
    return sub


def ask(client, uri, method="GET", host=SITE, query="", **headers):
    """The call a proxy makes: Caddy's and Traefik's headers, nginx's spelling with
    `nginx=True`."""
    sent = {"Host": host} | headers
    if uri is not None:  # None: nginx's spelling, in `headers`
        sent |= {"X-Forwarded-Uri": uri, "X-Forwarded-Method": method}
    cookie = client.get_cookie("session")  # the jar matches the Host: as a browser would send
    if cookie is not None:  # the cookie of a site on several subdomains
        client.set_cookie("session", cookie.value, domain=host)
    return client.get(f"/gate/check{query}", headers=sent)


def test_anonymous_on_a_public_path_passes_with_an_empty_identity(client, rules):
    r = ask(client, "/free/intro.html")
    assert r.status_code == 200
    assert r.data == b""
    identity = {h: v for h, v in r.headers if h.lower().startswith("x-tollgate-")}
    assert identity == {"X-Tollgate-User": "", "X-Tollgate-Email": "", "X-Tollgate-Roles": ""}
    assert r.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in r.headers


def test_anonymous_on_a_paid_path_gets_401_and_the_login_that_returns(client, rules):
    r = ask(client, "/guides/a%20b.html?x=1&y=2")
    assert r.status_code == 401
    login = urlsplit(r.headers["X-Tollgate-Login"])
    assert login.path == "/auth/login"
    assert parse_qs(login.query)["next"] == [f"http://{SITE}/guides/a%20b.html?x=1&y=2"]


def test_redirect_mode_sends_a_page_view_to_the_login(client, rules):
    r = ask(client, "/guides/x", query="?redirect=1")
    assert r.status_code == 302
    assert r.headers["Location"] == r.headers["X-Tollgate-Login"]
    # Not a page view: the status, so an API client is not sent to an HTML form.
    assert ask(client, "/guides/x", method="POST", query="?redirect=1").status_code == 401


def test_member_without_the_role_gets_403_and_the_paywall(client, rules, member, login_as):
    login_as(member)
    r = ask(client, "/guides/x")
    assert r.status_code == 403
    paywall = urlsplit(r.headers["X-Tollgate-Paywall"])
    assert paywall.path == "/gate/paywall"
    assert parse_qs(paywall.query)["url"] == [f"http://{SITE}/guides/x"]


def test_member_with_the_role_passes_with_identity(
    client, db, rules, member, premium, admin, clock, login_as
):
    grant(db, admin, member, premium, clock)
    login_as(member)
    r = ask(client, "/guides/x")
    assert r.status_code == 200
    assert r.headers["X-Tollgate-User"] == str(member.id)
    assert r.headers["X-Tollgate-Email"] == "member@example.com"
    assert r.headers["X-Tollgate-Roles"] == "premium"
    assert "Set-Cookie" not in r.headers


def test_rules_are_per_host(client, db, rules, member, login_as):
    login_as(member)
    # /guides/** is premium on docs.example.com only; elsewhere the default (members).
    assert ask(client, "/guides/x", host="blog.example.com").status_code == 200
    assert ask(client, "/guides/x").status_code == 403


def test_encoded_spellings_are_judged_as_the_path_they_mean(client, rules, member, login_as):
    login_as(member)
    for spelling in ("/free/../guides/x", "/free/%2e%2e/guides/x", "/GUIDES/x", "//guides/x"):
        r = ask(client, spelling)
        assert r.status_code in (400, 403), spelling
    assert ask(client, "/free/%252e%252e/guides/x").status_code == 400


def test_nginx_spelling_and_disagreeing_headers(client, rules, member, login_as):
    login_as(member)
    nginx = {"X-Original-URI": "/guides/x", "X-Original-Method": "GET"}
    assert ask(client, None, **nginx).status_code == 403
    # A client's X-Forwarded-Uri passed on beside the proxy's X-Original-URI: refused.
    r = ask(client, "/free/x", **{"X-Original-URI": "/guides/x"})
    assert r.status_code == 400
    assert b"disagree" in r.data
    assert client.get("/gate/check", headers={"Host": SITE}).status_code == 400


def test_only_the_named_proxies_may_ask(app, client, rules):
    r = client.get(
        "/gate/check",
        headers={"X-Forwarded-Uri": "/free/x"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert r.status_code == 403
    app.extensions["gate_proxies"] = original.networks(["203.0.113.0/24"])
    r = client.get(
        "/gate/check",
        headers={"X-Forwarded-Uri": "/free/x"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
        base_url=f"http://{SITE}",
    )
    assert r.status_code == 200


def test_a_forged_forwarded_uri_on_our_own_pages_changes_nothing(client, rules):
    # The content page /premium is for the premium role; the header names a public path.
    r = client.get("/premium", headers={"X-Forwarded-Uri": "/free/x", "X-Original-URI": "/"})
    assert r.status_code == 403
    assert b"Every premium article" not in r.data


def test_tokens_read_only(client, db, rules, member, premium, admin, clock):
    grant(db, admin, member, premium, clock)
    _, secret = tokens.create(member, API, "script")
    db.session.commit()
    bearer = {"Authorization": f"Bearer {secret}"}
    r = ask(client, "/guides/x", **bearer)
    assert r.status_code == 200 and r.headers["X-Tollgate-User"] == str(member.id)
    assert "Set-Cookie" not in r.headers
    assert ask(client, "/guides/x", method="POST", **bearer).status_code == 403
    r = ask(client, "/guides/x", **{"Authorization": "Bearer tg_pat_wrong"})
    assert r.status_code == 401


def test_revocation_reaches_the_next_check(
    client, db, rules, member, premium, admin, clock, login_as
):
    sub = grant(db, admin, member, premium, clock)
    login_as(member)
    assert ask(client, "/guides/x").status_code == 200
    admin_actions.revoke(admin, sub, "test", clock.now())
    db.session.commit()
    assert ask(client, "/guides/x").status_code == 403


def test_a_member_seen_before_costs_no_sql(
    app, client, db, rules, member, premium, admin, clock, login_as
):
    if app.extensions.get("gate_cache") is None:
        pytest.skip("the member copy is off (GATE_CACHE_SECONDS=0)")
    grant(db, admin, member, premium, clock)
    login_as(member)
    ask(client, "/guides/x")  # starts PostgreSQL's listener, which must vouch for copies
    wait_until_trusted(app)
    assert ask(client, "/guides/x").status_code == 200  # the copy and the roles kept
    db.session.remove()
    with statements_sent(db.engine) as sent:
        for _ in range(3):
            r = ask(client, "/guides/x")
            assert r.status_code == 200 and r.headers["X-Tollgate-Roles"] == "premium"
    assert sent == []


def test_a_session_from_another_browser_is_nobody(
    client, db, rules, member, premium, admin, clock, login_as
):
    """Flask-Login's strong session protection: the cookie with another User-Agent or
    address is logged out, by the fast check as by the view."""
    grant(db, admin, member, premium, clock)
    login_as(member)
    assert ask(client, "/guides/x").status_code == 200
    assert ask(client, "/guides/x").status_code == 200  # the cookie is known now
    assert ask(client, "/guides/x", **{"User-Agent": "curl/8"}).status_code == 401
    assert ask(client, "/guides/x", **{"X-Forwarded-For": "203.0.113.5"}).status_code == 401


def test_the_fast_check_answers_without_flask(
    app, client, db, rules, member, premium, admin, clock, login_as
):
    from flask import request_started

    grant(db, admin, member, premium, clock)
    login_as(member)
    ask(client, "/guides/x")
    if app.extensions.get("gate_cache") is not None:
        wait_until_trusted(app)
    ask(client, "/guides/x")
    seen: list[object] = []

    def started(sender: object, **extra: object) -> None:
        seen.append(sender)

    request_started.connect(started, app)  # held by `started` for the test's length
    try:
        for path in ("/guides/x", "/free/y"):
            r = ask(client, path)
            assert r.status_code == 200 and r.headers["X-Tollgate-Roles"] == "premium"
    finally:
        request_started.disconnect(started, app)
    fast = "forward_check" not in app.config["FASTPATH_OFF"]
    assert len(seen) == (0 if fast else 2)


def test_a_cookie_copied_before_log_out_opens_nothing_after(
    app, client, db, rules, member, premium, admin, clock, login_as
):
    """Does a plain log-out end the session server-side, so a copy of its cookie replayed
    afterwards fails at /account, a content page and the forward check (fast or not)?
    (`login_as` gives a session without an id, as from before session ids: its log-out
    rotates the token. Sessions with ids: tests/web/test_sessions.py.)"""
    grant(db, admin, member, premium, clock)
    login_as(member)
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    # The copy works before, and is now known to every cache (verified cookie, member copy).
    for _ in range(2):
        assert thief.get("/account").status_code == 200
        assert thief.get("/premium").status_code == 200
        assert ask(thief, "/guides/x").status_code == 200
    assert client.post("/auth/logout").status_code == 302
    assert thief.get("/account").status_code == 302  # to the log-in page
    page = thief.get("/premium")
    assert page.status_code in (401, 403) and b"Every premium article" not in page.data
    r = ask(thief, "/guides/x")
    assert r.status_code == 401 and r.headers.get("X-Tollgate-User", "") == ""
