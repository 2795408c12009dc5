"""Each process's copy of the rules: another process sees a change within
RULES_CHECK_SECONDS, and until then a request reads nothing about rules."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gateway import create_app
from gateway.database import dispose_engines
from gateway.roles.service import ensure_roles
from gateway.rulebook import edit, store
from models import db as _db
from tests.sql import statements_sent

from .conftest import CONFIG


@pytest.fixture
def monotonic(monkeypatch):
    """The store's clock, moved by hand: `monotonic.now += 2`."""
    fake = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(store, "time", SimpleNamespace(monotonic=lambda: fake.now))
    return fake


@pytest.fixture
def second_app(app, tmp_path):
    """Another process's app on the same database (its own copy of the rules)."""
    other = create_app(
        CONFIG | {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]},
        instance_path=str(tmp_path / "other"),
    )
    yield other
    with other.app_context():
        dispose_engines(other)


def patterns_in(other) -> list[str]:
    """What `other` decides by, in a fresh app context (as a request would)."""
    with other.app_context():
        return [r.pattern for r in store.current().table.rules]


def test_another_process_sees_a_change_within_the_check_interval(
    app, db, clock, second_app, monotonic
):
    assert app.config["RULES_CHECK_SECONDS"] == 1.0
    ensure_roles(["premium"], clock.now())
    db.session.commit()
    pages = patterns_in(second_app)
    assert "/premium" in pages  # the page rules come first
    edit.add(edit.Entry(edit.check("/library/**", "premium")), at=clock.now(), actor=None)
    db.session.commit()
    assert "/library/**" in [r.pattern for r in store.current().table.rules]  # this one: at once
    monotonic.now += 0.9
    assert patterns_in(second_app) == pages  # not yet looked
    monotonic.now += 0.2
    assert patterns_in(second_app) == [*pages, "/library/**"]
    edit.set_default(edit.check_default("public"), at=clock.now(), actor=None)
    db.session.commit()
    monotonic.now += 1.1
    with second_app.app_context():
        assert str(store.current().table.default) == "public"


def test_requests_read_nothing_about_rules_once_the_table_is_built(
    app, db, clock, client, monotonic
):
    """50 requests to content pages (anonymous: 403) send no SQL about rules; after the
    interval, one small read of the version, and no rebuild while it is unchanged."""
    ensure_roles(["premium"], clock.now())
    db.session.commit()
    edit.add(edit.Entry(edit.check("/library/**", "premium")), at=clock.now(), actor=None)
    db.session.commit()
    assert client.get("/premium").status_code == 403  # builds the table
    with statements_sent(_db.engine) as sent:
        for _ in range(25):
            assert client.get("/premium").status_code == 403
            assert client.get("/pro").status_code == 403
    assert [s for s in sent if "access_rules" in s or "settings" in s] == []
    book = store.current()
    monotonic.now += 1.5
    with statements_sent(_db.engine) as sent:
        assert client.get("/premium").status_code == 403
    about_rules = [s for s in sent if "access_rules" in s or "settings" in s]
    assert len(about_rules) == 1 and "settings" in about_rules[0]
    assert store.current() is book
