"""Error pages: one renderer, clear messages, never a stack trace."""

from __future__ import annotations

import re

import pytest

from models import User


def test_404_page(client):
    """Is an unknown URL a friendly 404 page?"""
    r = client.get("/no/such/page")
    assert r.status_code == 404 and b"Not found" in r.data and b"Traceback" not in r.data


def test_405_page(client):
    """Is a wrong method a clear 405?"""
    assert client.put("/auth/login").status_code == 405


def test_unexpected_error_is_a_500_page_and_rolls_back(app, client, db, clock, caplog):
    """In production, does an exception give the 500 page, get logged, and roll back?"""
    app.config["PROPAGATE_EXCEPTIONS"] = False  # what a deployed app does

    @app.route("/boom")
    def boom():
        db.session.add(
            User(email="half-done@example.com", password_hash="x", created_at=clock.now())
        )
        db.session.flush()  # written, then the view fails before commit
        raise RuntimeError("kaboom")

    r = client.get("/boom")
    assert r.status_code == 500
    assert b"Something went wrong" in r.data and b"kaboom" not in r.data
    assert "Exception on /boom [GET]" in caplog.text and "RuntimeError: kaboom" in caplog.text
    assert db.session.scalar(db.select(User).where(User.email == "half-done@example.com")) is None


def test_a_failing_view_shows_its_real_traceback_in_tests(app, client):
    """Does a test see the view's own exception rather than a bare 500?"""

    @app.route("/boom")
    def boom():
        raise LookupError("the real cause")

    with pytest.raises(LookupError, match="the real cause"):
        client.get("/boom")


def test_json_clients_get_json_errors(client):
    """Does a client asking for JSON get a JSON error body?"""
    r = client.get("/nope", headers={"Accept": "application/json"})
    assert r.status_code == 404 and r.json["error"] == "Not found"


@pytest.mark.parametrize(
    "data",
    [
        {"email": "x" * 300 + "@example.com", "password": "p"},
        {"email": "a\x00b@example.com", "password": "pass\x00word"},
        {},
    ],
)
def test_garbage_login_input_is_400(client, data):
    """Is junk in the login form a 400 page rather than a crash?"""
    assert client.post("/auth/login", data=data).status_code == 400


def test_undecodable_form_bytes(client):
    """Are non-UTF-8 form bytes handled without a 500?"""
    r = client.post(
        "/auth/login",
        data=b"email=%ff%fe&password=%ff",
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code in (400, 401)


@pytest.mark.parametrize("url", ["/plans?x=a%00b", "/admin/?q=%00"])
def test_nul_in_query_string_is_400(client, admin, login_as, url):
    """Is a NUL byte in a query string a 400 on every database?"""
    login_as(admin)
    r = client.get(url)
    assert r.status_code == 400 and b"NUL character" in r.data


def test_nul_in_a_form_body_is_400_without_a_query_string(client):
    """The check's shortcut (no query string, no body type: nothing to parse) leaves a
    form body with a NUL to the full check."""
    r = client.post(
        "/auth/login",
        data=b"email=a%00b%40example.com&password=x",
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 400 and b"NUL character" in r.data


def test_every_page_links_a_favicon_that_is_served(client):
    """Is there a favicon: linked from the layout, and at /favicon.ico, where browsers ask?"""
    page = client.get("/").data.decode()
    links = re.findall(r'<link rel="icon" href="([^"]+)"', page)
    assert len(links) == 2
    for url in links:
        r = client.get(url)
        assert r.status_code == 200 and r.mimetype in ("image/svg+xml", "image/vnd.microsoft.icon")
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.data[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_see_plans_and_renew_only_for_a_lapsed_member_off_admin_pages(
    app, client, db, clock, make_user, make_plan, make_subscription, login_as, admin
):
    """Is "See plans and renew" shown to a member whose access lapsed, and never on an
    admin page, to a member who never subscribed, or to an admin?"""
    from datetime import timedelta

    from flask import abort

    app.add_url_rule("/members-only-test", "members_only_test", lambda: abort(403))
    never, lapsed = make_user("never@example.com"), make_user("lapsed@example.com")
    sub = make_subscription(lapsed, make_plan("basic", role="premium", price="5.00"))
    sub.access_until = clock.now() - timedelta(days=1)
    db.session.commit()
    renew = b"See plans and renew"

    def page(user, path):
        r = login_as(user, browser=app.test_client()).get(path)
        assert r.status_code == 403
        return r.data

    assert renew in page(lapsed, "/members-only-test")
    assert renew not in page(lapsed, "/admin/payments")  # an admin-only 403
    assert renew not in page(never, "/members-only-test")
    assert renew not in page(admin, "/members-only-test")
