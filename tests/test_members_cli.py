"""`flask members grant/revoke`: the admin page's audited grant and revoke, from the
command line; the gate follows at once, and every mistake is a clear error."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from models import AuditEntry, Subscription


@pytest.fixture
def member(make_user):
    return make_user("comp@example.com")


@pytest.fixture
def premium(make_plan):
    return make_plan("premium-monthly", role="premium")


def grant(runner, *extra: str, email: str = "comp@example.com"):
    return runner.invoke(args=["members", "grant", email, "--reason", "press pass", *extra])


def test_grant_opens_the_role_until_the_end_of_the_day(
    runner, db, clock, member, premium, client, login_as
):
    """Does a grant open the role's pages until the end of the given day (UTC), audited as
    an operator's?"""
    day = (clock.now() + timedelta(days=10)).date()
    r = grant(runner, "--role", "premium", "--until", day.isoformat())
    assert r.exit_code == 0, r.output
    assert "premium until" in r.output
    sub = db.session.scalars(select(Subscription)).one()
    assert sub.access_until is not None
    assert sub.access_until.date() == day + timedelta(days=1) and sub.access_until.hour == 0
    entry = db.session.scalars(select(AuditEntry)).one()
    assert entry.action == "grant" and entry.actor_id is None and entry.reason == "press pass"
    assert entry.details is not None and "command line" in entry.details["by"]
    login_as(member)
    assert client.get("/premium").status_code == 200


def test_revoke_closes_it_at_once(runner, db, clock, member, premium, client, login_as):
    """Does a revoke end the role now, for a member already logged in?"""
    day = (clock.now() + timedelta(days=10)).date().isoformat()
    assert grant(runner, "--role", "premium", "--until", day).exit_code == 0
    login_as(member)
    assert client.get("/premium").status_code == 200
    r = runner.invoke(
        args=["members", "revoke", "comp@example.com", "--role", "premium", "--reason", "ended"]
    )
    assert r.exit_code == 0 and "revoked" in r.output, r.output
    assert client.get("/premium").status_code == 403
    again = runner.invoke(
        args=["members", "revoke", "comp@example.com", "--role", "premium", "--reason", "ended"]
    )
    assert again.exit_code == 0 and "nothing to revoke" in again.output
    actions = [e.action for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["grant", "revoke"]


def test_several_plans_for_a_role_need_a_choice(runner, db, clock, member, premium, make_plan):
    """With two plans granting the role, is the operator asked to choose one, and does
    --plan then work?"""
    make_plan("premium-yearly", role="premium")
    day = (clock.now() + timedelta(days=3)).date().isoformat()
    r = grant(runner, "--role", "premium", "--until", day)
    assert r.exit_code == 1 and "premium-monthly, premium-yearly" in r.output
    r = grant(runner, "--role", "premium", "--until", day, "--plan", "premium-yearly")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "premium", "--until", "2099-01-01"], None),
        (["--role", "gold", "--until", "2099-01-01"], "no active plan grants 'gold'"),
        (["--role", "premium", "--until", "yesterday"], "a day (2027-01-31)"),
        (["--role", "premium", "--until", "2000-01-01"], "is not in the future"),
        (["--role", "premium", "--until", "2099-01-01T10:00:00"], "needs its zone"),
        (["--role", "premium", "--until", "2099-01-01", "--plan", "nope"], "no plan with"),
    ],
)
def test_mistakes_are_clear_errors(runner, db, member, premium, args, message):
    """Is each mistake a one-line error with exit 1, and nothing granted?"""
    r = grant(runner, *args)
    if message is None:
        assert r.exit_code == 0, r.output
        return
    assert r.exit_code == 1 and message in r.output, r.output
    assert "Traceback" not in r.output
    assert db.session.scalars(select(Subscription)).all() == []


def test_an_unknown_member_and_a_missing_reason(runner, db, member, premium):
    """Are an unknown e-mail and a too short reason refused?"""
    r = grant(runner, "--role", "premium", "--until", "2099-01-01", email="who@example.com")
    assert r.exit_code == 1 and "no member with the e-mail" in r.output
    r = runner.invoke(
        args=["members", "grant", "comp@example.com", "--role", "premium"]
        + ["--until", "2099-01-01", "--reason", "x"]
    )
    assert r.exit_code == 1 and "3 to 500 characters" in r.output
