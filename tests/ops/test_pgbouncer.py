"""Many hosts, one database: everything works through a real PgBouncer in transaction mode
(docs/operations.md, "Many hosts, one database: PgBouncer").

The site, the inbox worker and the scheduler run as their real commands with their
database URL through PgBouncer (`DATABASE_POOLER = "transaction"`) and the gate's LISTEN
on a direct URL (`DATABASE_LISTEN_URL`). Without the setting, psycopg's prepared
statements break on PgBouncer: the first test shows it, so the others can fail.
"""

from __future__ import annotations

import html
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from gateway import ConfigError, create_app
from gateway.clock import SystemClock
from gateway.database import autocommit_engine, dispose_engines
from gateway.pipeline.intake import _Insert, _row
from gateway.subscriptions import admin_actions
from models import Subscription, db
from tests import factories
from tests.conftest import CONFIG
from tests.databases import throwaway_database
from tests.ops.pgbouncer import TIGHT, Bouncer, pgbouncer
from tests.servers import BOUND, Started, started
from tests.sim_session import SimSession
from tests.smtp import free_port
from tests.web.test_gate_cache import until

CONTENT = str(Path(__file__).resolve().parents[1] / "site_content")  # /premium: premium role
SECRET = "pgbouncer-test-secret-key-0123456789"
PLAN = "premium-monthly"
IPN_MEMBER, GATE_MEMBER, ADMIN = "ipn@example.com", "gate@example.com", "admin@example.com"
#: psycopg prepares a statement on its 5th run on a connection (`prepare_threshold`).
THRESHOLD = 5
NOWHERE = "postgresql+psycopg://tollgate@127.0.0.1:1/tollgate"  # never connected to


# --- the settings, without a server -------------------------------------------------


def app_with(tmp_path: Path, **settings: object):
    return create_app(CONFIG | settings, instance_path=str(tmp_path))


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"DATABASE_POOLER": "statement"}, "must be empty .* or transaction"),
        ({"DATABASE_POOLER": "transaction"}, "needs a postgresql\\+psycopg:// database URL"),
        (
            {"DATABASE_POOLER": "transaction", "SQLALCHEMY_DATABASE_URI": NOWHERE},
            "needs GATEWAY_DATABASE_LISTEN_URL",
        ),
        ({"DATABASE_LISTEN_URL": "sqlite:///x.sqlite"}, "must be a postgresql:// URL"),
    ],
)
def test_database_settings_that_cannot_work_stop_the_start(tmp_path, settings, problem):
    with pytest.raises(ConfigError, match=problem):
        app_with(tmp_path, **settings)


def test_transaction_pooling_turns_prepared_statements_off_and_only_then(tmp_path):
    """By default nothing changes (psycopg's own threshold, intake prepares its INSERT);
    behind a transaction pooler no engine of the app prepares anything."""
    row = _row(*_intake_args())
    plain = app_with(tmp_path / "plain", SQLALCHEMY_DATABASE_URI=NOWHERE)
    assert plain.config["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": True}
    with plain.app_context():
        assert _Insert.of(autocommit_engine(), row).options == {"prepare": True}
        dispose_engines(plain)
    pooled = app_with(
        tmp_path / "pooled",
        SQLALCHEMY_DATABASE_URI=NOWHERE,
        DATABASE_POOLER="transaction",
        GATE_CACHE_SECONDS=0,  # no LISTEN: no direct URL needed
    )
    options = pooled.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options == {"pool_pre_ping": True, "connect_args": {"prepare_threshold": None}}
    with pooled.app_context():
        assert _Insert.of(autocommit_engine(), row).options == {}
        dispose_engines(pooled)


def _intake_args() -> tuple:
    from gateway.billing.rules.statuses import Channel

    return (Channel.IPN, b"txn_type=subscr_signup", {}, "127.0.0.1", datetime.now(UTC), None)


# --- a real PgBouncer --------------------------------------------------------------


@pytest.fixture(scope="module")
def direct_url(request, tmp_path_factory):
    """A throwaway database of this module's, migrated, with a plan, an admin and two
    members (the gate's member holds premium for 30 days)."""
    server = request.config.getoption("--db-url")
    if not server:
        pytest.skip("needs PostgreSQL (GATEWAY_TEST_DATABASE_URL)")
    from flask_migrate import upgrade

    unused = tmp_path_factory.mktemp("sqlite") / "unused.sqlite"
    with throwaway_database(server, unused, "tollgate_pgbouncer") as url:
        app = create_app(
            CONFIG | {"SQLALCHEMY_DATABASE_URI": url},
            instance_path=str(tmp_path_factory.mktemp("instance")),
        )
        with app.app_context():
            upgrade()
            clock = SystemClock()
            plan = factories.plan_factory(db, clock)(PLAN, role="premium", price="9.00")
            make_user = factories.user_factory(db, clock)
            admin = make_user(ADMIN, is_admin=True)
            make_user(IPN_MEMBER)
            member = make_user(GATE_MEMBER)
            at = clock.now()
            admin_actions.grant(admin, member, plan, at + timedelta(days=30), "t", at)
            db.session.commit()
            db.session.remove()
            dispose_engines(app)
        yield url


@pytest.fixture(scope="module")
def bouncer(direct_url, tmp_path_factory):
    with pgbouncer(direct_url, tmp_path_factory.mktemp("pgbouncer")) as running:
        yield running


def ids(direct_url: str, tmp_path: Path) -> dict[str, int]:
    """Users' ids by e-mail, and the gate member's subscription as "sub"."""
    app = app_with(tmp_path / "ids", SQLALCHEMY_DATABASE_URI=direct_url)
    with app.app_context():
        from models import User

        found = {u.email: u.id for u in db.session.scalars(select(User))}
        found["sub"] = db.session.scalars(
            select(Subscription.id).where(Subscription.user_id == found[GATE_MEMBER])
        ).one()
        db.session.remove()
        dispose_engines(app)
    return found


@pytest.mark.postgres_only
def test_without_the_setting_prepared_statements_break_on_pgbouncer(bouncer, tmp_path):
    """Two connections sharing one server connection, the same statement run past
    psycopg's threshold on each: PgBouncer's server already holds `_pg3_0` from the
    other. With DATABASE_POOLER=transaction nothing is prepared and all is well."""
    for pooler in ("", "transaction"):
        app = app_with(
            tmp_path / (pooler or "direct"),
            SQLALCHEMY_DATABASE_URI=bouncer.url(TIGHT),
            DATABASE_POOLER=pooler,
            GATE_CACHE_SECONDS=0,
        )
        with app.app_context(), db.engine.connect() as one, db.engine.connect() as two:

            def run() -> None:
                for n in range(THRESHOLD + 2):
                    for conn in (one, two):  # one after the other on PgBouncer's one server
                        assert conn.execute(text("SELECT CAST(:n AS int)"), {"n": n}).scalar() == n
                        conn.commit()

            if pooler:
                run()
                driver = one.connection.driver_connection
                assert driver is not None and driver.prepare_threshold is None
            else:
                with pytest.raises(DBAPIError, match='prepared statement "_pg3_0"'):
                    run()
        with app.app_context():
            dispose_engines(app)


def group_env(tmp_path: Path, database_url: str, **settings: str) -> dict[str, str]:
    """A process's settings, as an operator sets them: GATEWAY_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    tmp_path.mkdir(parents=True, exist_ok=True)
    return env | {
        "GATEWAY_SQLALCHEMY_DATABASE_URI": database_url,
        "GATEWAY_SECRET_KEY": SECRET,
        "GATEWAY_INSTANCE_PATH": str(tmp_path),
        "GATEWAY_SESSION_COOKIE_SECURE": "false",  # plain http on loopback
        "GATEWAY_CONTENT_DIR": CONTENT,
        **{f"GATEWAY_{k}": v for k, v in settings.items()},
    }


def pooled_env(bouncer: Bouncer, tmp_path: Path, **settings: str) -> dict[str, str]:
    """Through PgBouncer in transaction mode; the gate's LISTEN straight to PostgreSQL."""
    return group_env(
        tmp_path,
        bouncer.url(),
        DATABASE_POOLER="transaction",
        DATABASE_LISTEN_URL=bouncer.direct,
        **settings,
    )


CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')


def csrf(page: str) -> str:
    found = CSRF.search(page)
    assert found is not None, page
    return found.group(1)


def log_in(site: str, email: str) -> requests.Session:
    """A browser logged in through the real log-in form."""
    browser = requests.Session()
    token = csrf(browser.get(f"{site}/auth/login", timeout=30).text)
    form = {"csrf_token": token, "email": email, "password": factories.PASSWORD}
    r = browser.post(f"{site}/auth/login", data=form, allow_redirects=False, timeout=30)
    assert r.status_code in (302, 303), r.text
    return browser


def subscribe(browser: requests.Session, site: str, sim: SimSession) -> None:
    """Subscribe with PayPal: our button to the stand-in, approved there."""
    token = csrf(browser.get(f"{site}/plans", timeout=30).text)
    page = browser.post(f"{site}/checkout/subscribe/{PLAN}", data={"csrf_token": token}, timeout=30)
    assert page.status_code == 200, page.text
    action = re.search(r'form id="paypal" method="post" action="([^"]+)"', page.text)
    assert action is not None, page.text
    hidden = r'<input type="hidden" name="([^"]+)" value="([^"]*)"'
    fields = {k: html.unescape(v) for k, v in re.findall(hidden, page.text)}
    approve = sim.http.post(action.group(1), data=fields, timeout=30)
    assert approve.status_code == 200, approve.text
    button = re.findall(r'name="(f_[a-z0-9_]+)" value="([^"]*)"', approve.text)
    decision = {k: html.unescape(v) for k, v in button} | {"decision": "approve"}
    back = sim.http.post(
        sim.url("/sim/checkout/standard"),
        data=decision | {"email": "buyer@example.com", "first_name": "A", "last_name": "B"},
        allow_redirects=False,
        timeout=30,
    )
    assert back.status_code == 303, back.text


@pytest.fixture
def sim_clock():
    """The stand-in on the wall clock, as the gateway's processes are."""
    from paypal_sim.clock import SimClock

    return SimClock()


def status(browser: requests.Session, url: str) -> int:
    return browser.get(url, allow_redirects=False, timeout=30).status_code


def check(browser: requests.Session, site: str) -> int:
    """What /gate/check answers a proxy asking about /premium for this browser."""
    ask = {"X-Forwarded-Uri": "/premium", "X-Forwarded-Method": "GET"}
    return browser.get(f"{site}/gate/check", headers=ask, timeout=30).status_code


def no_prepared_statement_errors(*processes: Started) -> None:
    for p in processes:
        assert "prepared statement" not in p.text, p.text


@pytest.mark.postgres_only
def test_an_ipn_through_pgbouncer_opens_access(bouncer, sim_app, tmp_path):
    """The site (gunicorn), an inbox worker and the scheduler, all through PgBouncer: a
    member subscribes, PayPal's IPNs are stored, verified and applied, the page opens."""
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    env = pooled_env(
        bouncer, tmp_path, PAYPAL_SIM_URL=sim_app.base_url, PUBLIC_URL=site, PAYPAL_TIMEOUT="5"
    )
    gunicorn = [sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "4"]
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    with (
        started([*gunicorn, "-b", f"127.0.0.1:{port}", "app:app"], env) as web,
        started([*flask, "inbox", "process", "--loop"], env) as worker,
        started([*flask, "jobs", "run"], env) as scheduler,
    ):
        web.wait_for_http(f"{site}/healthz")
        worker.wait_for("processed")
        scheduler.wait_for("scheduler started")
        member = log_in(site, IPN_MEMBER)
        assert status(member, f"{site}/premium") == 403  # the preview and the plans
        sim = SimSession(sim_app.base_url)
        subscribe(member, site, sim)
        assert sim.deliver() >= 2  # signup and payment, POSTed to the site's /paypal/ipn
        until(lambda: status(member, f"{site}/premium") == 200, BOUND)
        for _ in range(THRESHOLD + 2):  # past psycopg's threshold on every pooled connection
            assert status(member, f"{site}/premium") == 200
        worker.wait_for("processed")  # a few more rounds of claims through PgBouncer
    no_prepared_statement_errors(web, worker, scheduler)
    assert "inbox round failed" not in worker.text, worker.text


@pytest.mark.postgres_only
def test_a_revocation_in_a_direct_group_closes_the_gate_of_a_pooled_group(
    bouncer, tmp_path, direct_url
):
    """Group A on PostgreSQL directly, group B through PgBouncer with its LISTEN direct:
    separate processes with their own copies of the member, one database. A revocation
    made in A is seen by B's next request within a second, while B answered from its copy
    until then."""
    known = ids(direct_url, tmp_path)
    gate_server = [sys.executable, "-m", "tests.web.gate_server"]
    a_port, b_port = free_port(), free_port()
    a, b = f"http://127.0.0.1:{a_port}", f"http://127.0.0.1:{b_port}"
    env_a = group_env(tmp_path / "a", bouncer.direct)
    env_b = pooled_env(bouncer, tmp_path / "b")
    with (
        started([*gate_server, bouncer.direct, str(a_port)], env_a) as group_a,
        started([*gate_server, bouncer.url(), str(b_port)], env_b) as group_b,
    ):
        group_a.wait_for("serving")
        group_b.wait_for("serving")
        on_a, on_b = requests.Session(), requests.Session()
        for browser, site in ((on_a, a), (on_b, b)):
            assert status(browser, f"{site}/_test/login/{known[GATE_MEMBER]}") == 204
            gate = f"{site}/_test/gate"
            until(lambda gate=gate, br=browser: br.get(gate, timeout=30).json()["trusted"])
            for _ in range(THRESHOLD + 2):
                assert status(browser, f"{site}/premium") == 200
                # The forward-auth check of another site's /premium (the fast path, after
                # the first ones): the same member, the same copy.
                assert check(browser, site) == 200
        assert on_b.get(f"{b}/_test/gate", timeout=30).json() == {"copies": 1, "trusted": True}

        admin = requests.Session()
        assert status(admin, f"{a}/_test/login/{known[ADMIN]}") == 204
        revoke = f"{a}/admin/subscriptions/{known['sub']}/revoke"
        r = admin.post(
            revoke, data={"revoke-reason": "refunded", "confirm": "yes"}, allow_redirects=False
        )
        assert r.status_code == 303, r.text  # committed: B's copy must go
        took = until(lambda: check(on_b, b) == 403, 1.0)
        assert took < 1.0
        assert status(on_b, f"{b}/premium") == 403
        assert status(on_a, f"{a}/premium") == 403
    no_prepared_statement_errors(group_a, group_b)
