"""The fast path's off switches: each trick off leaves the app's behaviour as it was, and
the member copy's escape hatch (GATE_CACHE_SECONDS = 0) reads the member every time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway import create_app
from gateway.fastpath import TRICKS, FastPathError
from gateway.fastpath.lazy_migrate import _Deferred
from gateway.fastpath.session_cookie import SessionCookies
from gateway.subscriptions import admin_actions
from models import Notification, Subscription, User
from tests.conftest import CONFIG
from tests.sql import statements_sent

IPN_BODY = b"txn_type=subscr_signup&subscr_id=I-FASTPATHOFF1&receiver_email=x%40example.com"


@pytest.fixture
def granted(db, admin, make_user, make_plan, clock):
    member = make_user("member@example.com")
    plan = make_plan("premium-monthly", role="premium")
    admin_actions.grant(admin, member, plan, clock.now() + timedelta(days=30), "t", clock.now())
    db.session.commit()
    return member


def _the_site_behaves(app, db, client, login_as, granted, make_user):
    """A member with the role sees the page (twice: kept or not), one without gets 403,
    an admin's revoke closes it at once, PayPal's POST is stored, CSRF still refuses."""
    login_as(granted)
    for _ in range(2):
        r = client.get("/premium")
        assert r.status_code == 200 and b"Premium library" in r.data
        assert b'name="csrf_token"' in r.data
    assert client.get("/pro").status_code == 403
    admin = db.session.scalar(select(User).where(User.is_admin.is_(True)))
    sub = db.session.scalar(select(Subscription).where(Subscription.user_id == granted.id))
    admin_actions.revoke(admin, sub, "test", app.extensions["clock"].now())
    db.session.commit()
    assert client.get("/premium").status_code == 403
    r = client.post(
        "/paypal/ipn",
        data=IPN_BODY,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200 and r.headers["X-Frame-Options"] == "DENY"
    assert db.session.scalar(select(Notification.body)) == IPN_BODY
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post("/auth/logout").status_code == 400


@pytest.mark.parametrize("app", [{"FASTPATH_OFF": [name]} for name in TRICKS], indirect=True)
def test_each_trick_off_keeps_the_behaviour(app, db, client, login_as, granted, make_user):
    """Does the site behave the same with each trick switched off?"""
    _the_site_behaves(app, db, client, login_as, granted, make_user)


@pytest.mark.parametrize("app", [{"FASTPATH_OFF": list(TRICKS)}], indirect=True)
def test_every_trick_off_keeps_the_behaviour(app, db, client, login_as, granted, make_user):
    """Does the site behave the same with every trick switched off at once?"""
    _the_site_behaves(app, db, client, login_as, granted, make_user)
    assert not isinstance(app.session_interface, SessionCookies)
    assert not isinstance(app.extensions["migrate"], _Deferred)


@pytest.mark.parametrize("app", [{"GATE_CACHE_SECONDS": 0}], indirect=True)
def test_without_the_member_copy_every_gated_request_reads_the_member(
    app, db, client, login_as, granted, make_user
):
    """With GATE_CACHE_SECONDS = 0, is there no copy, and does each request read the row?"""
    assert app.extensions["gate_cache"] is None
    login_as(granted)
    client.get("/premium")
    for _ in range(2):
        with statements_sent(db.engine) as statements:
            assert client.get("/premium").status_code == 200
        assert any("FROM users" in s for s in statements), statements
    _the_site_behaves(app, db, client, login_as, granted, make_user)


def test_an_unknown_trick_is_refused(migrated, tmp_path):
    """Does a misspelt FASTPATH_OFF stop the app from starting, naming the known tricks?"""
    with pytest.raises(FastPathError, match="kept_page.*known: kept_pages"):
        create_app(
            CONFIG | {"SQLALCHEMY_DATABASE_URI": migrated, "FASTPATH_OFF": ["kept_page"]},
            instance_path=str(tmp_path),
        )


def test_every_trick_is_on_by_default(app):
    """Are the tricks installed when nothing is switched off?"""
    assert isinstance(app.session_interface, SessionCookies)
    assert isinstance(app.extensions["migrate"], _Deferred)
    assert app.extensions["gate_cache"] is not None
