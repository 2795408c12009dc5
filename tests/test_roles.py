"""Roles as data: created with a checked name, renamed (the stored rules follow, holders
keep their access), retired (holders keep it, plans are no longer offered it), deleted
only when nothing uses it; every change audited; the admin page and `flask roles`."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.content import site
from gateway.roles import service
from gateway.rulebook import edit
from gateway.subscriptions import admin_actions
from models import AccessRule, AuditEntry, Role, User

SITE_CONTENT = Path(__file__).parent / "site_content"


def actions(db) -> list[str]:
    return [e.action for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


@pytest.fixture
def premium(make_plan):
    return make_plan("premium-monthly", role="premium")


@pytest.fixture
def holder(db, admin, make_user, premium, clock):
    """A member granted the premium plan for 30 days."""
    member = make_user("holder@example.com")
    admin_actions.grant(admin, member, premium, clock.now() + timedelta(days=30), "t", clock.now())
    db.session.commit()
    return member


@pytest.fixture
def library(app, tmp_path):
    """The test content plus /library, a page without `access:` (the stored rules decide)."""
    root = tmp_path / "content"
    shutil.copytree(SITE_CONTENT, root)
    (root / "library.md").write_text("---\ntitle: Library\n---\nThe library.\n")
    app.config["CONTENT_DIR"] = str(root)
    site.install(app)
    return root


def add_rule(pattern: str, who: str, clock) -> AccessRule:
    from models import db

    row = edit.add(edit.Entry(edit.check(pattern, who)), at=clock.now(), actor=None)
    db.session.commit()
    return row


# --- the service ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Public", "members", "a b", "x" * 41, "", "-lead", "é"])
def test_a_bad_name_is_refused(db, clock, name):
    """Are reserved, spaced, too long and non-ASCII names refused, with nothing created?"""
    with pytest.raises(service.RoleError, match="role name"):
        service.create(name, "", "", at=clock.now(), actor=None)
    assert db.session.scalars(select(Role)).all() == []


def test_create_normalises_titles_and_refuses_a_duplicate(db, clock, admin):
    """Is a name lower-cased, titled from the name when no title is given, audited; and a
    second role of the same name refused?"""
    role = service.create(" Gold-Tier ", "", " For gold ", at=clock.now(), actor=admin)
    db.session.commit()
    assert (role.name, role.title, role.description) == ("gold-tier", "Gold Tier", "For gold")
    assert service.create("x" * 40, "", "", at=clock.now(), actor=None).name == "x" * 40
    with pytest.raises(service.RoleError, match="already a role named 'gold-tier'"):
        service.create("GOLD-TIER", "", "", at=clock.now(), actor=None)
    entry = db.session.scalars(select(AuditEntry)).first()
    assert entry is not None and entry.action == "role_created" and entry.actor_id == admin.id
    assert entry.details == {"name": "gold-tier"} and entry.subject_id == role.id


def test_rename_rewrites_rules_and_holders_keep_access(
    db, clock, holder, premium, library, client, login_as
):
    """Renaming premium to gold: the rules naming it name gold, the holder's sessions
    recompute and they still open the rule-governed page; the page whose front matter
    says `access: premium` locks, and the content check names it."""
    service.create("pro", "", "", at=clock.now(), actor=None)
    add_rule("/library", "premium", clock)
    add_rule("/other/**", "pro premium", clock)
    add_rule("/pro-only", "pro", clock)
    login_as(holder)
    assert client.get("/library").status_code == 200
    assert client.get("/premium").status_code == 200
    version = holder.access_version
    role = service.named("premium")
    assert role is not None
    service.update(role, name="Gold", title="Gold", description="", at=clock.now(),
                   actor=None, reason="rebrand")  # fmt: skip
    db.session.commit()
    db.session.expire_all()
    assert [
        r.who for r in db.session.scalars(select(AccessRule).order_by(AccessRule.position))
    ] == [
        "gold",
        "gold pro",
        "pro",
    ]
    assert db.session.get(User, holder.id).access_version == version + 1
    assert premium.role_names == ["gold"]
    assert client.get("/library").status_code == 200  # the rule follows the rename
    assert client.get("/premium").status_code == 403  # the front matter does not
    assert any("premium.md: access names no role called premium" in p for p in site.problems())
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "role_changed")).one()
    assert entry.details == {"name": "gold", "was": "premium"} and entry.reason == "rebrand"


def test_rename_to_a_taken_name_changes_nothing(db, clock, make_plan):
    make_plan("pro-monthly", role="pro")
    make_plan("premium-monthly", role="premium")
    role = service.named("premium")
    assert role is not None
    with pytest.raises(service.RoleError, match="already a role named 'pro'"):
        service.update(role, name="pro", title="", description="", at=clock.now(), actor=None)
    db.session.rollback()
    assert service.named("premium") is not None and "role_changed" not in actions(db)


def test_retire_keeps_holders_and_restore_undoes_it(
    db, clock, holder, premium, client, login_as, admin
):
    """A retired role: the holder keeps it, the plan editor no longer offers it to a new
    plan (a plan granting it still shows it); restored, it is offered again."""
    role = service.named("premium")
    assert role is not None
    service.retire(role, at=clock.now(), actor=None, reason="old tier")
    service.retire(role, at=clock.now(), actor=None, reason="twice")  # no second entry
    db.session.commit()
    assert role.retired and service.all_roles(include_retired=False) == []
    login_as(holder)
    assert client.get("/premium").status_code == 200
    login_as(admin)
    assert "premium: Premium" not in client.get("/admin/plans/new").data.decode()
    assert "premium: Premium" in client.get(f"/admin/plans/{premium.id}/edit").data.decode()
    service.restore(role, at=clock.now(), actor=None, reason="back")
    db.session.commit()
    assert not role.retired
    assert "premium: Premium" in client.get("/admin/plans/new").data.decode()
    assert actions(db)[-2:] == ["role_retired", "role_restored"]


def test_delete_is_refused_while_in_use(db, clock, make_plan):
    """A role a plan grants or a rule names is not deleted (retire it instead); an unused
    one is, audited."""
    plan = make_plan("premium-monthly", role="premium")
    role = service.named("premium")
    assert role is not None
    with pytest.raises(service.RoleError, match="plan.s. premium-monthly.*retire it instead"):
        service.delete(role, at=clock.now(), actor=None, reason="x")
    plan.roles = []
    db.session.commit()
    add_rule("/a", "premium", clock)
    with pytest.raises(service.RoleError, match="rule.s. at position 1.*retire it instead"):
        service.delete(role, at=clock.now(), actor=None, reason="x")
    db.session.delete(db.session.scalars(select(AccessRule)).one())
    service.delete(role, at=clock.now(), actor=None, reason="unused")
    db.session.commit()
    assert service.named("premium") is None
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "role_deleted")).one()
    assert entry.details == {"name": "premium"} and entry.reason == "unused"


# --- the admin page -------------------------------------------------------------------


def test_members_get_403(client, login_as, make_user, premium):
    login_as(make_user())
    role = service.named("premium")
    assert role is not None
    assert client.get("/admin/roles").status_code == 403
    assert client.post("/admin/roles", data={"name": "gold"}).status_code == 403
    assert client.get(f"/admin/roles/{role.id}").status_code == 403
    assert client.post(f"/admin/roles/{role.id}/delete", data={"reason": "xxx"}).status_code == 403


@pytest.mark.parametrize(
    ("name", "message"),
    [("Public", "a role name is"), ("a b", "a role name is"), ("x" * 41, "40"),
     ("premium", "already a role named"), ("", "required")],
)  # fmt: skip
def test_the_create_form_shows_errors_as_400(client, login_as, admin, premium, name, message):
    login_as(admin)
    r = client.post("/admin/roles", data={"name": name, "title": "T"})
    assert r.status_code == 400 and message in r.data.decode()


def test_the_admin_page_creates_renames_retires_restores_deletes(
    db, client, login_as, admin, premium
):
    login_as(admin)
    r = client.post("/admin/roles", data={"name": "Gold", "title": "Gold tier"})
    assert r.status_code == 303
    assert "Gold tier" in client.get("/admin/roles").data.decode()
    gold = service.named("gold")
    assert gold is not None
    gid = gold.id
    # A rename needs a reason; a taken name is refused; both 400 with the form again.
    r = client.post(f"/admin/roles/{gid}", data={"name": "platinum", "title": "P"})
    assert r.status_code == 400 and "needs a reason" in r.data.decode()
    r = client.post(f"/admin/roles/{gid}", data={"name": "premium", "reason": "merge"})
    assert r.status_code == 400 and "already a role named" in r.data.decode()
    r = client.post(f"/admin/roles/{gid}", data={"name": "platinum", "reason": "rebrand"})
    assert r.status_code == 303
    assert client.post(f"/admin/roles/{gid}/retire", data={"reason": ""}).status_code == 400
    for what in ("retire", "restore", "delete"):
        assert client.post(f"/admin/roles/{gid}/{what}", data={"reason": "tidy"}).status_code == 303
    assert client.get(f"/admin/roles/{gid}").status_code == 404
    assert client.post("/admin/roles/999999/delete", data={"reason": "tidy"}).status_code == 404
    # In use: refused with the reason shown on the role's page.
    role = service.named("premium")
    assert role is not None
    r = client.post(
        f"/admin/roles/{role.id}/delete", data={"reason": "tidy"}, follow_redirects=True
    )
    assert r.status_code == 200 and "retire it instead" in r.data.decode()
    assert service.named("premium") is not None
    assert actions(db) == [
        "role_created", "role_changed", "role_retired", "role_restored", "role_deleted"
    ]  # fmt: skip


# --- flask roles ----------------------------------------------------------------------


def test_cli_commands(runner, db, premium):
    r = runner.invoke(args=["roles", "add", "gold", "--title", "Gold tier"])
    assert r.exit_code == 0 and "created role gold (Gold tier)" in r.output
    r = runner.invoke(args=["roles", "list"])
    assert r.exit_code == 0
    assert "gold\tGold tier\t0 plan(s)\tactive" in r.output
    assert "premium\tPremium\t1 plan(s)\tactive" in r.output
    r = runner.invoke(args=["roles", "rename", "gold", "platinum", "--reason", "rebrand"])
    assert r.exit_code == 0 and "renamed gold to platinum" in r.output
    r = runner.invoke(args=["roles", "retire", "platinum", "--reason", "old tier"])
    assert r.exit_code == 0 and "retired platinum" in r.output
    assert "retired 2026-01-15" in runner.invoke(args=["roles", "list"]).output
    r = runner.invoke(args=["roles", "restore", "platinum", "--reason", "back"])
    assert r.exit_code == 0 and "restored platinum" in r.output
    r = runner.invoke(args=["roles", "delete", "platinum", "--reason", "unused"])
    assert r.exit_code == 0 and "deleted platinum" in r.output
    assert service.named("platinum") is None
    assert all(e.actor_id is None for e in db.session.scalars(select(AuditEntry)))
    assert len(actions(db)) == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "Public"], "a role name is"),
        (["add", "premium"], "already a role named 'premium'"),
        (["rename", "nope", "x", "--reason", "why"], "no role named 'nope'"),
        (["rename", "premium", "a b", "--reason", "why"], "a role name is"),
        (["rename", "premium", "gold", "--reason", "x"], "--reason: 3 to 500"),
        (["retire", "nope", "--reason", "why"], "no role named 'nope'"),
        (["restore", "premium", "--reason", ""], "--reason: 3 to 500"),
        (["delete", "premium", "--reason", "why"], "retire it instead"),
    ],
)
def test_cli_errors_are_one_line_and_exit_1(runner, db, premium, args, message):
    r = runner.invoke(args=["roles", *args])
    assert r.exit_code == 1, r.output
    assert r.output.startswith("Error: ") and r.output.count("\n") == 1, r.output
    assert message in r.output
    assert actions(db) == []
