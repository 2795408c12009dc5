"""The shipped nginx and Caddy configurations, run by the real servers in front of
Tollgate and a site, in both layouts: Tollgate at example.com/members, and Tollgate on
members.example.com for docs.example.com. A visitor logs in and comes back, a member
without the role pays at the stand-in and comes back, a refund closes the site within a
second, and no forged header or return address gets anywhere."""

from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.roles.service import ensure_roles
from gateway.rulebook import edit
from gateway.subscriptions import admin_actions
from tests.factories import PASSWORD
from tests.servers import serve

from .proxies import caddy, nginx, proxied, site_app, through

SETTINGS = {
    "SERVER_NAME": None,
    # Behind one proxy we run: its X-Forwarded-For, -Proto, -Host and -Prefix are true.
    "PROXY_FIX": {"x_for": 1, "x_proto": 1, "x_host": 1, "x_prefix": 1},
    "ALLOWED_RETURN_HOSTS": ["example.com", "*.example.com"],
    "SESSION_COOKIE_DOMAIN": "example.com",
}
#: (where the site is, where Tollgate is) for each layout of docs/proxies/.
LAYOUTS = {
    "at /members": ("http://example.com", "http://example.com/members"),
    "own subdomain": ("http://docs.example.com", "http://members.example.com"),
}
PROXIES = {"nginx": nginx, "caddy": caddy}


class Forms(HTMLParser):
    """The forms of a page: [(action, {hidden and named fields})]."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), {}))
        elif tag in ("input", "button") and self.forms and a.get("name"):
            self.forms[-1][1][a["name"]] = a.get("value", "")


def forms(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


@pytest.fixture(params=list(LAYOUTS))
def layout(request):
    return LAYOUTS[request.param]


@pytest.fixture(params=list(PROXIES))
def world(request, app, db, clock, tmp_path, layout):
    """(browser, site URL, Tollgate URL) with the proxy running in front of both."""
    ensure_roles(["premium"], clock.now())
    for pattern, who in (("/guides/**", "premium"), ("/free/**", "public")):
        edit.add(edit.Entry(edit.check(pattern, who)), at=clock.now(), actor=None)
    db.session.commit()
    site, tollgate = layout
    app.config["PUBLIC_URL"] = tollgate
    with ExitStack() as stack:
        ours = stack.enter_context(serve(app)).removeprefix("http://")
        theirs = stack.enter_context(serve(site_app())).removeprefix("http://")
        proxy = stack.enter_context(PROXIES[request.param](tmp_path, ours, theirs))
        yield proxied(proxy), site, tollgate, proxy


pytestmark = pytest.mark.parametrize("app", [SETTINGS], indirect=True)


def log_in(http, login_url: str, email: str) -> str:
    """Post the log-in form at `login_url`; the address it sends the member on to."""
    assert http.get(login_url, timeout=10).status_code == 200
    r = http.post(
        login_url, data={"email": email, "password": PASSWORD}, allow_redirects=False, timeout=10
    )
    assert r.status_code == 302, r.text
    return r.headers["Location"]


def test_anonymous_logs_in_and_comes_back(world, make_user, make_plan, admin, clock, db):
    http, site, tollgate, _ = world
    member = make_user("reader@example.com")
    plan = make_plan("premium-monthly", role="premium", price="9.00")
    admin_actions.grant(admin, member, plan, clock.now() + timedelta(days=30), "t", clock.now())
    db.session.commit()
    assert http.get(f"{site}/free/intro.html", timeout=10).text == "site page /free/intro.html\n"

    original = f"{site}/guides/a%20b.html?page=2&x=1"
    r = http.get(original, allow_redirects=False, timeout=10)
    assert r.status_code == 302
    login = r.headers["Location"]
    assert login.startswith(f"{tollgate}/auth/login?")
    assert parse_qs(urlsplit(login).query)["next"] == [original]
    assert log_in(http, login, "reader@example.com") == original
    r = http.get(original, timeout=10)
    assert r.status_code == 200
    assert r.text == "site page /guides/a b.html\n"
    assert r.headers["X-Seen-Tollgate-User"] == str(member.id)
    assert r.headers["X-Seen-Tollgate-Email"] == "reader@example.com"
    assert r.headers["X-Seen-Tollgate-Roles"] == "premium"


def test_member_pays_at_the_stand_in_comes_back_and_a_refund_closes_it(
    world, make_user, make_plan, app, sim_app, sim, clock, scheduler
):
    http, site, tollgate, proxy = world
    make_user("buyer@example.com")
    make_plan("premium-monthly", role="premium", price="9.00")
    app.config["PAYPAL_SIM_URL"] = sim_app.base_url
    app.extensions.pop("ipn_verifier", None)
    sim.outbox.http.proxies = through(proxy)  # PayPal reaches example.com as DNS says
    sim.outbox.http.trust_env = False

    original = f"{site}/guides/paid.html"
    login = http.get(original, allow_redirects=False, timeout=10).headers["Location"]
    assert log_in(http, login, "buyer@example.com") == original
    r = http.get(original, allow_redirects=False, timeout=10)
    assert r.status_code == 302  # logged in, no role: the paywall
    paywall = r.headers["Location"]
    assert paywall.startswith(f"{tollgate}/gate/paywall?")
    page = http.get(paywall, timeout=10)
    assert page.status_code == 200 and "9.00 USD" in page.text
    action, fields = next(f for f in forms(page.text) if "/checkout/subscribe/" in f[0])
    assert fields["next"] == original

    # Subscribe: the button page for PayPal, then the buyer approves at the stand-in.
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(tollgate))
    button = http.post(origin + action, data=fields, timeout=10)
    assert button.status_code == 200, button.text
    _, to_paypal = next(f for f in forms(button.text) if f[1].get("cmd"))
    approve = {f"f_{k}": v for k, v in to_paypal.items()} | {"decision": "approve"}
    r = http.post(f"{sim_app.base_url}/sim/checkout/standard", data=approve, timeout=10)
    assert r.status_code == 200 and "Waiting for PayPal" in r.text  # our return page
    assert f'data-return-to="{original}"' in r.text

    sim.outbox.run_due()  # the IPN, through the proxy; the scheduler's jobs apply it
    clock.advance(seconds=1)
    assert _within(5.0, lambda: http.get(original, allow_redirects=False, timeout=10).status_code)
    r = http.get(original, timeout=10)
    assert r.status_code == 200 and r.headers["X-Seen-Tollgate-Roles"] == "premium"

    payment = next(t for t in sim.world.transactions.values() if t.kind == "payment")
    sim.refund(payment)
    refunded = time.monotonic()
    sim.outbox.run_due()
    clock.advance(seconds=1)
    assert _within(
        5.0, lambda: http.get(original, allow_redirects=False, timeout=10).status_code, 302
    )
    # From the refund's arrival at the site to the site's 403: the gate's part of it.
    assert time.monotonic() - refunded < 5.0


def _within(bound: float, status, wanted: int = 200) -> bool:
    """Ask until `status()` is `wanted`, for at most `bound` seconds (no fixed sleep: the
    scheduler's jobs tick every 0.05 s)."""
    end = time.monotonic() + bound
    while time.monotonic() < end:
        if status() == wanted:
            return True
        time.sleep(0.05)
    return False


def test_forged_identity_headers_never_reach_the_site(world, make_user):
    http, site, tollgate, _ = world
    forged = {"X-Tollgate-User": "1", "X-Tollgate-Email": "boss@example.com"}
    forged["X-Tollgate-Roles"] = "admin,premium"
    r = http.get(f"{site}/free/x", headers=forged, timeout=10)
    assert r.status_code == 200
    seen = {h: r.headers[f"X-Seen-Tollgate-{h}"] for h in ("User", "Email", "Roles")}
    assert seen == {"User": "", "Email": "", "Roles": ""}
    # Logged in without a role: the site sees who it is, and no role.
    member = make_user("plain@example.com")
    log_in(http, f"{tollgate}/auth/login", "plain@example.com")
    r = http.get(f"{site}/members-area/x", headers=forged, timeout=10)
    assert r.status_code == 200  # the default: members
    seen = {h: r.headers[f"X-Seen-Tollgate-{h}"] for h in ("User", "Email", "Roles")}
    assert seen == {"User": str(member.id), "Email": "plain@example.com", "Roles": ""}
    http.cookies.clear()
    # A forged request target for the gate: the proxy asks about the real one.
    for header in ("X-Forwarded-Uri", "X-Original-URI"):
        r = http.get(f"{site}/guides/x", headers={header: "/free/x"}, allow_redirects=False)
        assert r.status_code == 302, header  # to the log-in
        assert "site page" not in r.text


def test_a_return_address_on_another_site_is_refused(world, make_user):
    http, _, tollgate, _ = world
    make_user("careful@example.com")
    for evil in (
        "http://evil.example.net/steal",
        "//evil.example.net/",
        "http://example.com@evil.example.net/",
        "http:/\\evil.example.net/",
    ):
        login = f"{tollgate}/auth/login?next={evil}"
        assert not log_in(http, login, "careful@example.com").startswith(evil)
        http.cookies.clear()
        r = http.get(f"{tollgate}/gate/paywall", params={"url": evil}, timeout=10)
        assert r.status_code == 400
