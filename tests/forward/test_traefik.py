"""The shipped Traefik configuration, checked against its header contract (Traefik is not
in the package registries this project installs from, so no real Traefik runs here).

Two halves: what the YAML says (every route to the site strips the identity headers
before it asks, asks /gate/check with redirect=1, trusts no visitor's X-Forwarded-*, and
copies exactly Tollgate's identity headers), and what Tollgate answers to the request
Traefik's forwardAuth builds from a visitor's (their headers minus the stripped ones,
plus X-Forwarded-Method, -Proto, -Host, -Uri and -For of its own, sent to Tollgate's own
address), with the settings docs/proxies.md gives for Traefik.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from gateway.config import DefaultConfig
from gateway.roles.service import ensure_roles
from gateway.rulebook import edit
from gateway.subscriptions import admin_actions

from .proxies import SHIPPED, TOLLGATE

STATIC = yaml.safe_load((SHIPPED / "traefik.yml").read_text())
DYNAMIC = yaml.safe_load((SHIPPED / "traefik-dynamic.yml").read_text())["http"]
IDENTITY = list(DefaultConfig.GATE_HEADERS.values())
VISITOR = "198.51.100.7"
#: Headers Tollgate reads that only a proxy may write.
PROXY_ONLY = ["X-Original-URI", "X-Original-Method"]


def middleware(name: str) -> dict:
    return DYNAMIC["middlewares"][name]


def site_routers() -> dict[str, dict]:
    return {k: r for k, r in DYNAMIC["routers"].items() if r["service"] == "your-site"}


def test_static_config_reads_the_dynamic_file():
    assert STATIC["providers"]["file"]["filename"].endswith("/traefik-dynamic.yml")
    assert STATIC["entryPoints"]["web"]["address"] == ":80"


def test_every_route_to_the_site_strips_then_asks():
    routers = site_routers()
    assert set(routers) == {"example-site", "docs-site"}
    for name, router in routers.items():
        chain = router["middlewares"]
        kinds = [next(iter(middleware(m))) for m in chain]
        assert kinds == ["headers", "forwardAuth"], name
        stripped = middleware(chain[0])["headers"]["customRequestHeaders"]
        assert stripped == {h: "" for h in IDENTITY + PROXY_ONLY}, name


def test_forward_auth_asks_the_check_and_copies_only_the_identity():
    auth = middleware("tollgate")["forwardAuth"]
    address = urlsplit(auth["address"])
    assert address.netloc == TOLLGATE
    assert address.path == "/gate/check"
    assert parse_qs(address.query) == {"redirect": ["1"]}
    assert auth["trustForwardHeader"] is False
    assert auth["authResponseHeaders"] == IDENTITY
    assert "authRequestHeaders" not in auth  # the visitor's cookie must reach Tollgate


def test_tollgate_pages_are_routed_without_the_check():
    tollgate = {k: r for k, r in DYNAMIC["routers"].items() if r["service"] == "tollgate"}
    assert set(tollgate) == {"example-tollgate", "members-tollgate"}
    for router in tollgate.values():
        assert "tollgate" not in router.get("middlewares", [])
    prefix = middleware("tollgate-under-members")["stripPrefix"]["prefixes"]
    assert prefix == ["/members"]
    # /members/... must win over the site's catch-all on the same host.
    assert (
        DYNAMIC["routers"]["example-tollgate"]["priority"]
        > DYNAMIC["routers"]["example-site"]["priority"]
    )
    servers = DYNAMIC["services"]["tollgate"]["loadBalancer"]["servers"]
    assert servers == [{"url": f"http://{TOLLGATE}"}]


def traefik_asks(client, host: str, uri: str, visitor: dict[str, str], method: str = "GET"):
    """The request Traefik's forwardAuth sends for a visitor's `method host uri`."""
    stripped = middleware("tollgate-strip-identity")["headers"]["customRequestHeaders"]
    headers = {k: v for k, v in visitor.items() if k not in stripped}
    headers |= {
        "Host": TOLLGATE,  # the address's: Traefik asks Tollgate at its own address
        "X-Forwarded-Method": method,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": host,
        "X-Forwarded-Uri": uri,
        "X-Forwarded-For": VISITOR,
    }
    query = urlsplit(middleware("tollgate")["forwardAuth"]["address"]).query
    return client.get(f"/gate/check?{query}", headers=headers)


TRAEFIK = {
    "SERVER_NAME": None,
    "PROXY_FIX": {"x_for": 1, "x_proto": 1, "x_host": 1},
    "PUBLIC_URL": "https://members.example.com",
    "ALLOWED_RETURN_HOSTS": ["*.example.com"],
}


@pytest.fixture
def rules(db, clock):
    ensure_roles(["premium"], clock.now())
    edit.add(edit.Entry(edit.check("/guides/**", "premium")), at=clock.now(), actor=None)
    db.session.commit()


@pytest.mark.parametrize("app", [TRAEFIK], indirect=True)
def test_tollgate_answers_traefiks_question(client, db, rules, make_user, make_plan, admin, clock):
    forged = {"X-Tollgate-Roles": "premium", "X-Original-URI": "/free"}
    r = traefik_asks(client, "docs.example.com", "/guides/a?b=1", forged)
    assert r.status_code == 302  # a page view: to the log-in, which comes back
    login = urlsplit(r.headers["Location"])
    assert (
        f"{login.scheme}://{login.netloc}{login.path}" == "https://members.example.com/auth/login"
    )
    assert parse_qs(login.query)["next"] == ["https://docs.example.com/guides/a?b=1"]
    # Not a page view: the plain status for an API client.
    assert traefik_asks(client, "docs.example.com", "/guides/a", {}, "POST").status_code == 401

    member = make_user("t@example.com")
    plan = make_plan("premium-monthly", role="premium")
    admin_actions.grant(admin, member, plan, clock.now() + timedelta(days=3), "t", clock.now())
    db.session.commit()
    # Logged in through Traefik too: the same forwarded address (the session is bound
    # to the visitor's address and browser: Flask-Login's strong session protection).
    client.get(f"/_test/login/{member.id}", headers={"X-Forwarded-For": VISITOR})
    cookie = client.get_cookie("session")
    assert cookie is not None  # the visitor's cookie, which Traefik passes on
    client.set_cookie("session", cookie.value, domain=TOLLGATE.split(":")[0])
    r = traefik_asks(client, "docs.example.com", "/guides/a", forged)
    assert r.status_code == 200
    copied = {h: r.headers[h] for h in middleware("tollgate")["forwardAuth"]["authResponseHeaders"]}
    assert copied == {
        "X-Tollgate-User": str(member.id),
        "X-Tollgate-Email": "t@example.com",
        "X-Tollgate-Roles": "premium",
    }
