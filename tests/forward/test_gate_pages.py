"""The gate's pages for people and scripts, in-process: the paywall, `/gate/me` with
CORS, and the return addresses the log-in and the checkout accept (access_rules.returns).
The settings that refuse to start: test_gate_settings.py."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import select

from gateway.subscriptions import admin_actions
from models import Checkout, Plan
from tests.factories import PASSWORD

from .conftest import SITE

PAID = f"http://{SITE}/guides/a.html?x=1&y=2"
APP_ORIGIN = "https://app.example.com"
RETURNS = {"ALLOWED_RETURN_HOSTS": [SITE]}
CORS = {"GATE_CORS_ORIGINS": [APP_ORIGIN.upper() + "/"]}  # kept in lower case, no slash
returns_allowed = pytest.mark.parametrize("app", [RETURNS], indirect=True)


@pytest.fixture
def plans(db, make_plan):
    """Two plans open /guides/**, one /pro/**, and a retired one that would."""
    yearly = make_plan("premium-yearly", role="premium", price="90.00", period_unit="Y")
    monthly = make_plan("premium-monthly", role="premium", price="9.00")
    pro = make_plan("pro-monthly", role="pro", price="19.00")
    make_plan("premium-retired", role="premium", price="1.00").active = False
    db.session.commit()
    return {"monthly": monthly, "yearly": yearly, "pro": pro}


@pytest.fixture
def member(make_user):
    return make_user("member@example.com")


def grant(db, admin, member, plan, clock, days=30):
    admin_actions.grant(
        admin, member, plan, clock.now() + timedelta(days=days), "test grant", clock.now()
    )
    db.session.commit()


def paywall(client, url, host="localhost"):
    """The paywall as a browser on `host` asks it (with the cookie of a site on several
    subdomains)."""
    cookie = client.get_cookie("session")
    if cookie is not None:
        client.set_cookie("session", cookie.value, domain=host)
    return client.get("/gate/paywall", query_string={"url": url}, headers={"Host": host})


def forms(page: str) -> dict[str, str | None]:
    """Subscribe form action -> its hidden `next` (None without one)."""
    found = {}
    for action, body in re.findall(
        r'<form method="post" action="(/checkout/subscribe/[^"]+)"[^>]*>(.*?)</form>', page, re.S
    ):
        nxt = re.search(r'name="next" value="([^"]*)"', body)
        found[html.unescape(action)] = html.unescape(nxt.group(1)) if nxt else None
    return found


def hrefs(page: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'href="([^"]+)"', page)]


def next_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["next"][0]


# --- the paywall -------------------------------------------------------------------------


def test_paywall_offers_only_the_plans_that_open_the_url(client, rules, plans, member, login_as):
    login_as(member)
    r = paywall(client, PAID, host=SITE)
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    # Cheapest first, with their prices; neither the pro plan nor a retired one.
    assert forms(page) == {
        "/checkout/subscribe/premium-monthly": PAID,
        "/checkout/subscribe/premium-yearly": PAID,
    }
    assert page.index("9.00 USD") < page.index("90.00 USD")
    assert "19.00" not in page and "Premium-Retired" not in page and "1.00 USD" not in page


def test_paywall_for_nobody_links_the_login_that_comes_back(client, rules, plans):
    page = paywall(client, PAID, host=SITE).get_data(as_text=True)
    assert forms(page) == {}  # no subscribe button before the log-in
    logins = [h for h in hrefs(page) if urlsplit(h).path == "/auth/login" and "next=" in h]
    assert len(logins) == 3  # the call to action and one per plan
    assert {next_of(h) for h in logins} == {PAID}


def test_paywall_sends_a_member_it_opens_for_straight_there(
    client, db, rules, plans, member, admin, clock, login_as
):
    grant(db, admin, member, plans["monthly"], clock)
    login_as(member)
    r = paywall(client, PAID, host=SITE)
    assert r.status_code == 303 and r.headers["Location"] == PAID
    # A public page too; a page their role does not open still gets the paywall.
    free = f"http://{SITE}/free/x"
    assert paywall(client, free, host=SITE).headers["Location"] == free
    r = paywall(client, f"http://{SITE}/pro/x", host=SITE)
    assert r.status_code == 200
    assert forms(r.get_data(as_text=True)) == {
        "/checkout/subscribe/pro-monthly": f"http://{SITE}/pro/x"
    }


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(PAID, id="allowed-elsewhere-not-here"),
        pytest.param("https://evil.com/guides/x", id="foreign"),
        pytest.param("//evil.com/guides/x", id="protocol-relative"),
        pytest.param(f"https://{SITE}@evil.com/", id="userinfo"),
        pytest.param("javascript:alert(1)", id="javascript"),
        pytest.param("", id="empty"),
    ],
)
def test_paywall_refuses_an_address_of_another_site(client, rules, plans, url):
    r = paywall(client, url)  # Host: localhost, no ALLOWED_RETURN_HOSTS
    assert r.status_code == 400
    assert b"evil.com" not in r.data
    assert client.get("/gate/paywall").status_code == 400


@returns_allowed
def test_paywall_for_an_allowed_host_and_our_own(client, rules, plans, member, login_as):
    login_as(member)
    r = paywall(client, PAID)  # Tollgate on its own host, the site on docs.example.com
    assert r.status_code == 200
    assert set(forms(r.get_data(as_text=True))) == {
        "/checkout/subscribe/premium-monthly",
        "/checkout/subscribe/premium-yearly",
    }
    assert paywall(client, "http://localhost/pro/x").status_code == 200
    assert paywall(client, "/pro/x").status_code == 200
    assert paywall(client, "http://blog.example.com/guides/x").status_code == 400


@pytest.mark.parametrize("path", ["/a/%252e%252e/", "/free/%252e%252e/guides/x"])
def test_paywall_refuses_a_path_with_no_single_meaning(client, rules, plans, path):
    assert paywall(client, f"http://{SITE}{path}", host=SITE).status_code == 400


def test_paywall_escapes_the_url_it_shows(client, rules, plans, member, login_as):
    login_as(member)
    url = 'http://localhost/pro/x?q="><script>alert(1)</script>'
    page = paywall(client, url).get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert forms(page) == {"/checkout/subscribe/pro-monthly": url}


# --- /gate/me ------------------------------------------------------------------------------


def test_me_for_nobody(client, rules, plans):
    r = client.get("/gate/me")
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    body = r.get_json()
    assert body["logged_in"] is False and "user" not in body and "roles" not in body
    assert [p["code"] for p in body["plans"]] == [
        "premium-monthly",
        "pro-monthly",
        "premium-yearly",
    ]
    monthly = body["plans"][0]
    assert (monthly["price"], monthly["currency"], monthly["roles"]) == ("9.00", "USD", ["premium"])
    assert urlsplit(monthly["subscribe"]).path == "/plans"
    assert "Set-Cookie" not in r.headers


def test_me_for_a_member_with_live_and_ended_roles(
    client, db, rules, plans, member, admin, clock, login_as
):
    grant(db, admin, member, plans["pro"], clock, days=1)
    grant(db, admin, member, plans["monthly"], clock, days=30)
    clock.advance(days=2)
    login_as(member)
    body = client.get("/gate/me").get_json()
    assert body["logged_in"] is True
    assert body["user"] == {"id": member.id, "email": "member@example.com"}
    roles = {r["name"]: r for r in body["roles"]}
    assert roles["premium"]["active"] is True and roles["pro"]["active"] is False
    assert roles["premium"]["access_until"].startswith("2026-02-14")
    assert roles["pro"]["access_until"].startswith("2026-01-16")


def test_me_with_a_url_offers_only_the_plans_that_open_it(client, rules, plans):
    body = client.get("/gate/me", query_string={"url": PAID}).get_json()
    assert [p["code"] for p in body["plans"]] == ["premium-monthly", "premium-yearly"]
    subscribe = urlsplit(body["plans"][0]["subscribe"])
    assert subscribe.path == "/gate/paywall" and parse_qs(subscribe.query)["url"] == [PAID]
    body = client.get("/gate/me", query_string={"url": f"http://{SITE}/free/x"}).get_json()
    assert body["plans"] == []
    body = client.get("/gate/me", query_string={"url": f"http://{SITE}/a/%252e%252e/"}).get_json()
    assert body["plans"] == []


@pytest.mark.parametrize("app", [CORS], indirect=True)
def test_me_cors_only_for_the_named_origins(client, rules, plans, member, login_as):
    login_as(member)
    r = client.get("/gate/me", headers={"Origin": APP_ORIGIN})
    assert r.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in r.vary and r.headers["Cache-Control"] == "no-store"
    assert r.get_json()["logged_in"] is True
    for other in (
        "https://evil.com",
        "null",
        "https://app.example.com.evil.com",
        "http://app.example.com",
        "*",
    ):
        r = client.get("/gate/me", headers={"Origin": other})
        assert "Access-Control-Allow-Origin" not in r.headers, other
        assert "Access-Control-Allow-Credentials" not in r.headers, other
        assert "Origin" in r.vary


@pytest.mark.parametrize("app", [CORS], indirect=True)
def test_me_preflight(client):
    ask = {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "GET"}
    r = client.options("/gate/me", headers=ask)
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert r.headers["Access-Control-Allow-Methods"] == "GET"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    r = client.options("/gate/me", headers=ask | {"Origin": "https://evil.com"})
    assert r.status_code == 204
    assert not {h for h, _ in r.headers if h.lower().startswith("access-control-")}


def test_me_without_cors_origins_answers_no_origin(client):
    r = client.get("/gate/me", headers={"Origin": APP_ORIGIN})
    assert "Access-Control-Allow-Origin" not in r.headers


# --- the log-in's next ---------------------------------------------------------------


def log_in(client, nxt):
    query = "?" + urlencode({"next": nxt}) if nxt is not None else ""
    return client.post(
        f"/auth/login{query}", data={"email": "member@example.com", "password": PASSWORD}
    )


@returns_allowed
def test_login_returns_to_an_allowed_host(client, member):
    r = log_in(client, PAID)
    assert r.status_code == 302 and r.headers["Location"] == PAID


@returns_allowed
@pytest.mark.parametrize(
    "nxt",
    [
        "https://evil.com/",
        "//evil.com/",
        f"https://{SITE}@evil.com/",
        f"https://{SITE}.evil.com/",
        "https://blog.example.com/",
        "javascript:alert(1)",
    ],
)
def test_login_sends_a_foreign_next_home(client, member, nxt):
    r = log_in(client, nxt)
    assert r.status_code == 302
    assert urlsplit(r.headers["Location"]).path == "/"
    assert urlsplit(r.headers["Location"]).netloc in ("", "localhost")


@returns_allowed
def test_a_logged_in_member_is_not_sent_to_a_foreign_next(client, member, login_as):
    login_as(member)
    r = client.get("/auth/login", query_string={"next": "https://evil.com/x"})
    assert r.status_code == 302 and "evil.com" not in r.headers["Location"]
    r = client.get("/auth/login", query_string={"next": PAID})
    assert r.headers["Location"] == PAID


# --- the checkout's way back ---------------------------------------------------------


def subscribe(client, code, nxt=None):
    r = client.post(f"/checkout/subscribe/{code}", data={} if nxt is None else {"next": nxt})
    assert r.status_code == 200, r.data
    return r


def return_page(client, db, code):
    token = db.session.scalar(select(Checkout.token).join(Plan).where(Plan.code == code))
    page = client.get("/checkout/return", query_string={"cm": token}).get_data(as_text=True)
    found = re.search(r'data-return-to="([^"]*)"', page)
    return html.unescape(found.group(1)) if found else None


@returns_allowed
def test_checkout_remembers_an_allowed_next_for_its_return_page(
    client, db, plans, member, login_as
):
    login_as(member)
    subscribe(client, "premium-monthly", PAID)
    assert return_page(client, db, "premium-monthly") == PAID
    # Only for that checkout: another one opened after it without a next forgets it.
    subscribe(client, "pro-monthly")
    assert return_page(client, db, "pro-monthly") is None
    assert return_page(client, db, "premium-monthly") is None


@returns_allowed
@pytest.mark.parametrize(
    "nxt", ["https://evil.com/", "//evil.com/x", f"https://{SITE}@evil.com/", "javascript:alert(1)"]
)
def test_checkout_does_not_remember_a_foreign_next(client, db, plans, member, login_as, nxt):
    login_as(member)
    subscribe(client, "premium-monthly", nxt)
    assert return_page(client, db, "premium-monthly") is None


@returns_allowed
def test_checkout_return_address_is_escaped(client, db, plans, member, login_as):
    login_as(member)
    nxt = f'https://{SITE}/x?q="><script>alert(1)</script>'
    subscribe(client, "premium-monthly", nxt)
    assert return_page(client, db, "premium-monthly") == nxt
    token = db.session.scalar(select(Checkout.token))
    page = client.get("/checkout/return", query_string={"cm": token}).get_data(as_text=True)
    assert "<script>alert(1)" not in page


@returns_allowed
def test_another_members_checkout_shows_no_return_address(
    client, db, plans, member, make_user, login_as
):
    login_as(member)
    subscribe(client, "premium-monthly", PAID)
    token = db.session.scalar(select(Checkout.token))
    login_as(make_user("other@example.com"))  # same browser, the session's memory kept
    page = client.get("/checkout/return", query_string={"cm": token}).get_data(as_text=True)
    assert "could not find that checkout" in page and "data-return-to" not in page


@returns_allowed
def test_the_rest_waiting_page_goes_back_too(client, db, plans, member, login_as):
    """The REST checkout's waiting page (after the JS SDK's onApprove) is the same way back."""
    login_as(member)
    subscribe(client, "premium-monthly", PAID)
    token = db.session.scalar(select(Checkout.token))
    page = client.get(f"/checkout/rest/{token}/waiting").get_data(as_text=True)
    found = re.search(r'data-return-to="([^"]*)"', page)
    assert found is not None and html.unescape(found.group(1)) == PAID
