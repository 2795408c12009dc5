"""The access gate: login roles, 403 in an old session, revocation, links, query count."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from gateway.subscriptions import admin_actions, service
from models import User
from tests.servers import BOUND
from tests.sql import statements_sent


def grant(db, admin, member, plan, clock, days=30):
    sub = admin_actions.grant(
        admin, member, plan, clock.now() + timedelta(days=days), "test grant", clock.now()
    )
    db.session.commit()
    return sub


@pytest.fixture
def member(make_user):
    return make_user("member@example.com")


@pytest.fixture
def premium(make_plan):
    return make_plan("premium-monthly", role="premium")


def test_anonymous_sees_the_preview_and_a_way_in(client, premium):
    """Does an anonymous visitor to a gated page get 403 with the public preview, a log-in
    link that returns here, and the plan that opens it with its price, but not the rest?"""
    r = client.get("/premium")
    assert r.status_code == 403
    assert b"public preview" in r.data
    assert b"Every premium article" not in r.data
    assert b"/auth/login?next=/premium" in r.data
    assert b"Premium-Monthly</strong>: 9.00 USD every month" in r.data
    assert "private" in r.headers["Cache-Control"]


def test_member_without_subscription_gets_403_with_reason(client, member, premium, login_as):
    """Does a member with no subscription get a 403 that names the plan that opens it
    and links to plans?"""
    login_as(member)
    r = client.get("/premium")
    assert r.status_code == 403
    assert b"This plan opens it" in r.data
    assert b"Every premium article" not in r.data
    assert b'href="/plans"' in r.data


def test_grant_opens_then_clock_closes_in_same_session(
    client, db, admin, member, premium, login_as, clock
):
    """Grant -> 200 and a visible link; clock past access_until -> 403, same session."""
    login_as(member)
    assert client.get("/premium").status_code == 403
    home = client.get("/")
    assert b'<li class="locked"><a href="/premium">' in home.data

    sub = grant(db, admin, member, premium, clock, days=30)
    assert client.get("/premium").status_code == 200
    assert b'<li class="open"><a href="/premium">' in client.get("/").data
    assert b'<li class="locked"><a href="/pro">' in client.get("/").data

    clock.set(sub.access_until - timedelta(seconds=1))
    assert client.get("/premium").status_code == 200
    clock.set(sub.access_until)
    r = client.get("/premium")
    assert r.status_code == 403
    assert b"access ended on" in r.data
    assert b'<li class="locked"><a href="/premium">' in client.get("/").data


def test_revoke_closes_at_once_in_same_session(client, db, admin, member, premium, login_as, clock):
    """Does an admin revocation give 403 on the member's very next request?"""
    sub = grant(db, admin, member, premium, clock)
    login_as(member)
    assert client.get("/premium").status_code == 200
    admin_actions.revoke(admin, sub, "chargeback", clock.now())
    db.session.commit()
    assert client.get("/premium").status_code == 403


def test_revoke_by_admin_page_closes_member_session(
    client, db, admin, member, premium, login_as, new_client, clock
):
    """End to end: the admin revokes through the UI; the member's old session gets 403."""
    sub = grant(db, admin, member, premium, clock)
    login_as(member)
    assert client.get("/premium").status_code == 200
    admin_browser = login_as(admin, new_client())
    r = admin_browser.post(
        f"/admin/subscriptions/{sub.id}/revoke",
        data={"revoke-reason": "fraud reported", "confirm": "yes"},
    )
    assert r.status_code == 303
    assert client.get("/premium").status_code == 403


def test_grace_period_keeps_access_then_closes(client, db, member, premium, login_as, clock):
    """With a failed renewal, is access kept for the grace days and no longer?"""
    from gateway.billing import Fact, FactKind
    from models import Subscription

    sub = Subscription(
        user_id=member.id,
        plan_id=premium.id,
        paypal_id="I-GRACE",
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    db.session.add(sub)
    db.session.flush()
    t = clock.now()
    service.record_fact(
        sub, Fact(FactKind.PAYMENT_COMPLETED, t, key="T1", txn_id="T1"), source="test", now=t
    )
    service.record_fact(
        sub, Fact(FactKind.PAYMENT_FAILED, t + timedelta(days=31), key="F1"), source="test", now=t
    )
    service.recompute(sub, t)
    db.session.commit()
    login_as(member)
    assert sub.paid_through is not None
    clock.set(sub.paid_through + timedelta(days=2))
    assert client.get("/premium").status_code == 200
    clock.set(sub.paid_through + timedelta(days=3))
    assert client.get("/premium").status_code == 403


def test_extension_is_seen_without_logging_out(client, db, admin, member, premium, login_as, clock):
    """When access is extended, does the old session pick up the new date?"""
    sub = grant(db, admin, member, premium, clock, days=5)
    login_as(member)
    assert client.get("/premium").status_code == 200
    admin_actions.extend(admin, sub, clock.now() + timedelta(days=60), "goodwill", clock.now())
    db.session.commit()
    clock.advance(days=10)
    assert client.get("/premium").status_code == 200


def test_roles_are_computed_at_login(client, db, admin, member, premium, clock):
    """Does logging in through the form put the member's roles in the session?"""
    grant(db, admin, member, premium, clock)
    r = client.post(
        "/auth/login", data={"email": member.email, "password": "correct horse battery"}
    )
    assert r.status_code == 302
    with client.session_transaction() as sess:
        assert "premium" in sess["_roles"]["r"]
    assert client.get("/premium").status_code == 200


def test_gate_costs_no_query(app, client, db, admin, member, premium, login_as, clock):
    """Once the member is known to this process, a gated request runs no query at all."""
    grant(db, admin, member, premium, clock)
    login_as(member)
    client.get("/premium")  # first request computes and caches the roles
    wait_until_trusted(app)
    client.get("/premium")  # the member's copy is taken by a trusted cache
    with statements_sent(db.engine) as statements:
        assert client.get("/premium").status_code == 200
    assert statements == []


def wait_until_trusted(app, seconds: float = BOUND) -> None:
    """PostgreSQL: the listener thread connects in the background (a generous bound)."""
    cache = app.extensions["gate_cache"]
    deadline = time.monotonic() + seconds
    while not cache.watcher.trusted() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cache.watcher.trusted()


def test_bumped_version_forces_recompute(client, db, admin, member, premium, login_as, clock):
    """Does a version bump on the user row make the session recompute its roles?"""
    login_as(member)
    assert client.get("/premium").status_code == 403
    # Write a grant directly, without bumping: the cached (empty) roles stay in force...
    version = member.access_version
    grant(db, admin, member, premium, clock)
    db.session.execute(db.update(User).where(User.id == member.id).values(access_version=version))
    db.session.commit()
    assert client.get("/premium").status_code == 403
    # ...until the version moves.
    service.bump_access_version(member.id)
    db.session.commit()
    assert client.get("/premium").status_code == 200


def test_expired_subscription_listed_separately(
    client, db, admin, member, premium, login_as, clock
):
    """Does "My subscriptions" split active and expired ones with time left?"""
    old = grant(db, admin, member, premium, clock, days=2)
    clock.advance(days=3)
    grant(db, admin, member, premium, clock, days=10)
    login_as(member)
    page = client.get("/account").data.decode()
    active, expired = page.split("<h2>Expired</h2>")
    assert "10 d 0 h" in active and "renews" not in active
    assert old.access_until.strftime("%Y-%m-%d %H:%M") in expired
    assert "expired" in expired
