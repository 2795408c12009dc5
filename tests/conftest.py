"""Fixtures: app, client, runner, db (SQLite file or PostgreSQL), clock, login_as, factories.

The same suite runs on SQLite (default) and on PostgreSQL when GATEWAY_TEST_DATABASE_URL
names a server: a throwaway database is created there for the session and dropped after.
"""

from __future__ import annotations

import contextvars
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_login import login_user
from sqlalchemy.engine import make_url

from gateway import create_app
from gateway.clock import FrozenClock
from gateway.database import dispose_engines
from models import User
from models import db as _db
from paypal_sim import create_app as create_sim_app
from paypal_sim.clock import SimClock

from . import factories
from .databases import throwaway_database
from .servers import Listener, serve
from .sim_session import SimSession

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def pytest_addoption(parser):
    parser.addoption(
        "--db-url",
        default=os.environ.get("GATEWAY_TEST_DATABASE_URL", ""),
        help="PostgreSQL server URL to test against (a database is created there)",
    )


def pytest_report_header(config):
    url = config.getoption("--db-url")
    return f"database: {make_url(url).render_as_string(hide_password=True) if url else 'SQLite'}"


@pytest.fixture(scope="session")
def database_url(request, tmp_path_factory):
    server = request.config.getoption("--db-url")
    sqlite_file = tmp_path_factory.mktemp("db") / "test.sqlite"
    try:
        with throwaway_database(server, sqlite_file, "tollgate_test") as url:
            yield url
    except sa.exc.OperationalError as e:
        pytest.exit(f"PostgreSQL test server {server!r} is not reachable: {e}", returncode=3)


@pytest.fixture(scope="session")
def migrated(database_url, tmp_path_factory):
    """Build the schema once per session through the real migrations."""
    from flask_migrate import upgrade

    app = create_app(
        CONFIG | {"SQLALCHEMY_DATABASE_URI": database_url},
        instance_path=str(tmp_path_factory.mktemp("instance")),
    )
    with app.app_context():
        upgrade()
        _db.engine.dispose()
    return database_url


CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-0123456789",
    "WTF_CSRF_ENABLED": False,
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    "SERVER_NAME": "localhost",
    # Two pages the gate tests open: /premium (access: premium) and /pro (access: pro).
    "CONTENT_DIR": str(Path(__file__).parent / "site_content"),
}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def app(request, migrated, tmp_path, clock):
    """The app on the test database; `parametrize("app", [{...}], indirect=True)` adds
    settings."""
    extra = getattr(request, "param", {})
    app = create_app(
        CONFIG | {"SQLALCHEMY_DATABASE_URI": migrated} | extra, instance_path=str(tmp_path)
    )
    app.extensions["clock"] = clock
    app.add_url_rule("/_test/login/<int:user_id>", view_func=_test_login)
    with app.app_context():
        yield app
        cache = app.extensions.get("gate_cache")
        if cache is not None and hasattr(cache.watcher, "stopped"):
            cache.watcher.stopped.set()  # its LISTEN connection closes with this app
        _db.session.remove()
        # Delete every row (children first); no commit patching, so unique keys stay real.
        with _db.engine.begin() as conn:
            for table in reversed(_db.metadata.sorted_tables):
                conn.execute(table.delete())
        dispose_engines(app)


def _test_login(user_id: int):
    """Test-only: log a member in through Flask-Login's public API, in the client's request."""
    login_user(_db.session.get(User, user_id))
    return "", 204


@pytest.fixture
def db(app):
    return _db


class IsolatedClient(FlaskClient):
    """Each request runs outside the test's app context, as in production.

    Otherwise Flask reuses the test's context, and `g` (Flask-Login's current user, the
    role cache) and the database session would leak from one request into the next.
    """

    def open(self, *args, **kwargs):
        # Buffered, so a streamed body is read and its context closed inside that Context.
        kwargs.setdefault("buffered", True)
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def scheduler(app):
    """The real scheduler on a background thread, every job ticking every 0.05 s.

    Jobs run once per window of the app's clock, so a test moves the clock to let each
    job run again; it never sleeps on time itself.
    """
    from gateway.jobs import runner as job_runner
    from gateway.jobs.registry import JOBS

    app.config["JOB_INTERVALS"] = {job.id: 0.05 for job in JOBS}
    background = job_runner.start_in_background(app)
    try:
        yield background
    finally:
        background.shutdown(bounded=False)  # the runs in progress end before the rows go


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def login_as(app, client):
    """Log a member in on a test client with Flask-Login's own `login_user`.

    Roles are not written here: the first request computes them exactly as after login.
    Pass `browser=new_client()` to log someone in on a second browser.
    """

    def login(user, browser=None):
        browser = browser or client
        assert browser.get(f"/_test/login/{user.id}").status_code == 204
        return browser

    return login


@pytest.fixture
def new_client(app, client):
    """Another browser, with its own cookies."""
    return app.test_client


@pytest.fixture
def make_user(db, clock):
    return factories.user_factory(db, clock)


@pytest.fixture
def make_plan(db, clock):
    return factories.plan_factory(db, clock)


@pytest.fixture
def admin(make_user):
    return make_user("admin@example.com", is_admin=True)


@pytest.fixture
def make_subscription(db, clock):
    return factories.subscription_factory(db, clock)


# --- the PayPal stand-in on loopback, and a recording listener ------------------------

SIM_T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def listener():
    lst = Listener()
    with serve(lst.app) as url:
        lst.url = url
        yield lst


@pytest.fixture
def sim_clock():
    return SimClock(frozen=SIM_T0)


@pytest.fixture
def sim_app(listener, sim_clock):
    app = create_sim_app(
        {
            "SIM_AUTO_DELIVER": False,
            "SIM_CLOCK": sim_clock,
            "SIM_NOTIFY_URL": f"{listener.url}/ipn",
            "SIM_WEBHOOK_URL": f"{listener.url}/webhook",
            "SIM_REPORTING_LAG_MINUTES": 0,
            "SIM_DELIVERY_TIMEOUT": 5,
            "SIM_PLANS": [
                {
                    "id": "P-MONTHLY",
                    "name": "Premium monthly",
                    "price": "9.00",
                    "interval_unit": "MONTH",
                }
            ],
        }
    )
    with serve(app) as url:
        app.extensions["paypal_sim"].base_url = url
        # Tests read `sim_app.base_url`; Flask declares no such attribute, so set it dynamically.
        setattr(app, "base_url", url)  # noqa: B010
        yield app


@pytest.fixture
def sim(sim_app):
    return sim_app.extensions["paypal_sim"]


@pytest.fixture
def paypal(sim_app):
    """A requests session against the stand-in, with helpers."""
    return SimSession(sim_app.base_url)


def pytest_collection_modifyitems(config, items):
    if config.getoption("--db-url"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (GATEWAY_TEST_DATABASE_URL)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)
