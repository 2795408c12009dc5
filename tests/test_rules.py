"""The stored access rules: checked before they are stored, kept in order 1..n on every
database, imported whole or not at all, exported so an import gives them back the
same; the admin page's tester, and `flask rules`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.access_rules.table import BadRule, Who
from gateway.roles.service import ensure_roles
from gateway.rulebook import edit, store
from models import AccessRule, AuditEntry

GOOD = """\
default: members
rules:
  - path: /guides/*
    who: public
  - path: /files/**
    who: [premium, pro]
    host: docs.example.com
    note: downloads
  - path: /premium/**
    who: premium
"""


@pytest.fixture
def roles(db, clock):
    ensure_roles(["premium", "pro"], clock.now())
    db.session.commit()


def add(pattern, who="public", position=None, host=None, *, clock):
    from models import db

    row = edit.add(
        edit.Entry(edit.check(pattern, who, host)), at=clock.now(), actor=None, position=position
    )
    db.session.commit()
    return row


def listed(db) -> list[tuple[int, str]]:
    db.session.expire_all()
    return [(r.position, r.pattern) for r in store.stored()]


def test_add_in_the_middle_renumbers(db, clock, roles):
    """Inserting at 1 and in the middle shifts the later rules down (UNIQUE(position)
    holds throughout, on PostgreSQL too); a position past the end is last."""
    for p in ("/a", "/b", "/c"):
        add(p, clock=clock)
    add("/x", position=2, clock=clock)
    add("/first", position=1, clock=clock)
    add("/last", position=99, clock=clock)
    assert listed(db) == [(1, "/first"), (2, "/a"), (3, "/x"), (4, "/b"), (5, "/c"), (6, "/last")]
    assert [e.action for e in db.session.scalars(select(AuditEntry))] == ["rule_added"] * 6


def test_move_and_remove_renumber(db, clock, roles):
    rows = [add(p, clock=clock) for p in ("/a", "/b", "/c", "/d")]
    edit.move(rows[3], 1, at=clock.now(), actor=None)
    db.session.commit()
    assert listed(db) == [(1, "/d"), (2, "/a"), (3, "/b"), (4, "/c")]
    edit.move(rows[3], 50, at=clock.now(), actor=None)
    db.session.commit()
    assert listed(db) == [(1, "/a"), (2, "/b"), (3, "/c"), (4, "/d")]
    edit.remove(rows[1], at=clock.now(), actor=None)
    db.session.commit()
    assert listed(db) == [(1, "/a"), (2, "/c"), (3, "/d")]
    assert store.current().decide("/b").rule is None  # the process that changed sees it
    actions = [e.action for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-3:] == ["rule_moved", "rule_moved", "rule_removed"]


@pytest.mark.parametrize(
    ("pattern", "who", "host", "message"),
    [
        ("/a", "gold", None, "no role named gold"),
        ("/a", "premium gold", None, "no role named gold"),
        ("/a", "public members", None, "who:"),
        ("/a", "", None, "who:"),
        ("guides/*", "public", None, "starts with /"),
        ("/a/**b", "public", None, "** stands alone"),
        ("/../x", "public", None, "no . or .."),
        ("/a/%252e", "public", None, "encoded twice"),
        ("/" + "a" * 400, "public", None, "at most 400"),
        ("/a", "public", "http://docs.example.com/", "a host name only"),
        ("/a", "public", "docs example.com", "a host name only"),
        ("/a", "public", "*.example.com", "a host name only"),
        ("/a", "public", "x" * 254, "a host name only"),
        ("/a", "public", "[nope]", "IPv6"),
    ],
)
def test_check_refuses(roles, pattern, who, host, message):
    with pytest.raises(BadRule, match=message.replace("*", r"\*")):
        edit.check(pattern, who, host)


def test_check_gives_the_canonical_rule(roles):
    rule = edit.check(" /Guides//A/ ", ["PRO", "premium"], "Docs.Example.com:8443")
    assert (rule.pattern, str(rule.who), rule.host) == (
        "/guides/a",
        "premium pro",
        "docs.example.com",
    )
    assert edit.check("/a", "public", "bücher.example").host == "xn--bcher-kva.example"
    assert edit.check("/a", "public", "  ").host is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [", "not YAML at line"),
        ("- a list", "a mapping with `default:` and `rules:`"),
        ("rules: {path: /a}", "`rules:` is a list"),
        ("default: gold", "no role named gold"),
        ("rules:\n  - path: /a\n    who: public\n  - path: /b\n",
         "rule 2: needs `path:` and `who:`"),
        ("rules:\n  - path: /a\n    who: public\n  - {path: /b, who: public, when: x}",
         "rule 2: unknown key"),
        ("rules:\n  - {path: /a, who: public}\n  - {path: /b, who: gold}",
         "rule 2: no role named gold"),
        ("rules:\n  - {path: a, who: public}", "rule 1: 'a': a pattern starts with /"),
        ("rules:\n  - {path: /a, who: public, host: a/b}", "rule 1: host"),
    ],
)  # fmt: skip
def test_a_bad_file_names_the_rule_and_changes_nothing(
    db, clock, roles, runner, tmp_path, text, message
):
    with pytest.raises(BadRule, match=message):
        edit.read_file(text)
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text(text)
    assert runner.invoke(args=["rules", "import", str(good)]).exit_code == 0
    before = edit.write_file()
    r = runner.invoke(args=["rules", "import", str(bad)])
    assert r.exit_code == 1 and r.output.count("\n") == 1, r.output
    assert "nothing changed" in r.output and message in r.output
    db.session.expire_all()
    assert edit.write_file() == before and len(store.stored()) == 3


def test_export_then_import_is_identical(db, clock, roles, runner, tmp_path):
    entries, default = edit.read_file(GOOD)
    edit.replace_all(entries, default, at=clock.now(), actor=None)
    db.session.commit()
    first = edit.write_file()
    assert edit.read_file(first) == (entries, default)
    exported = runner.invoke(args=["rules", "export"])
    assert exported.exit_code == 0 and exported.output == first
    path = tmp_path / "rules.yaml"
    path.write_text(exported.output)
    r = runner.invoke(args=["rules", "import", str(path)])
    assert r.exit_code == 0 and "imported 3 rule(s)" in r.output
    db.session.expire_all()
    assert edit.write_file() == first
    assert runner.invoke(args=["rules", "import", "-"], input=first).exit_code == 0
    db.session.expire_all()
    assert edit.write_file() == first
    actions = [e.action for e in db.session.scalars(select(AuditEntry))]
    assert actions.count("rules_imported") == 3 and "rules_default" in actions


def test_the_tester_shows_path_source_and_each_visitor(db, clock, roles, client, login_as, admin):
    add("/guides/**", "public", clock=clock)
    add("/files/**", "premium pro", clock=clock)
    login_as(admin)

    def verdict(url: str) -> str:
        r = client.get("/admin/rules", query_string={"url": url})
        assert r.status_code == 200
        page = r.data.decode()
        return page[page.index('id="verdict"') : page.index("<h2>Rules")]

    page = verdict("/Files/./a//b.pdf")
    assert "<code>/files/a/b.pdf</code>" in page and "decided by rule 2" in page
    assert "<strong>premium pro</strong>" in page
    assert "a visitor who is not logged in: no" in page and "any logged-in member: no" in page
    assert "a member holding premium: yes" in page and "a member holding pro: yes" in page
    page = verdict("/premium")
    assert "decided by page premium.md" in page and "a member holding pro: no" in page
    page = verdict("https://docs.example.com/elsewhere")
    assert "on docs.example.com" in page and "decided by the default" in page
    assert "any logged-in member: yes" in page  # ACCESS_DEFAULT: members
    assert "refused" in verdict("/a/%252e%252e/b")


def test_admin_rules_forms(db, clock, roles, client, login_as, admin, make_user):
    login_as(make_user())
    assert client.get("/admin/rules").status_code == 403
    assert client.post("/admin/rules", data={"pattern": "/a", "who": "public"}).status_code == 403
    login_as(admin)
    r = client.post("/admin/rules", data={"pattern": "/a", "who": "gold"})
    assert r.status_code == 400 and "no role named gold" in r.data.decode()
    r = client.post("/admin/rules", data={"pattern": "/a", "who": "public", "host": "a b"})
    assert r.status_code == 400 and "a host name only" in r.data.decode()
    r = client.post("/admin/rules/default", data={"default": "gold"})
    assert r.status_code == 400 and "no role named gold" in r.data.decode()
    r = client.post("/admin/rules/import", data={"text": "rules: ["})
    assert r.status_code == 400 and "Nothing changed" in r.data.decode()
    assert client.post("/admin/rules", data={"pattern": "/a", "who": "pro"}).status_code == 303
    assert (
        client.post(
            "/admin/rules", data={"pattern": "/b", "who": "public", "position": "1"}
        ).status_code
        == 303
    )
    assert listed(db) == [(1, "/b"), (2, "/a")]
    a = db.session.scalars(select(AccessRule).where(AccessRule.pattern == "/a")).one()
    assert client.post(f"/admin/rules/{a.id}/move", data={"position": "1"}).status_code == 303
    assert listed(db) == [(1, "/a"), (2, "/b")]
    assert client.post(f"/admin/rules/{a.id}/move", data={}).status_code == 400
    assert client.post(f"/admin/rules/{a.id}/remove").status_code == 303
    assert client.post(f"/admin/rules/{a.id}/remove").status_code == 404
    assert client.post("/admin/rules/import", data={"text": GOOD}).status_code == 303
    assert listed(db)[0] == (1, "/guides/*")
    r = client.get("/admin/rules/export")
    assert r.status_code == 200 and r.data.decode() == edit.write_file()
    assert client.post("/admin/rules/default", data={"default": "public"}).status_code == 303
    assert store.default_who() == Who(public=True)


def test_cli_commands(db, clock, roles, runner):
    r = runner.invoke(args=["rules", "add", "/files/**", "premium", "pro", "--note", "dl"])
    assert r.exit_code == 0 and "1\t/files/**\tpremium pro" in r.output
    r = runner.invoke(args=["rules", "add", "/Guides/*", "public", "--position", "1",
                            "--host", "Docs.Example.com"])  # fmt: skip
    assert r.exit_code == 0 and "1\t/guides/*\tpublic" in r.output
    r = runner.invoke(args=["rules", "list"])
    assert r.output.splitlines() == [
        "1\t/guides/*\tpublic\thost=docs.example.com",
        "2\t/files/**\tpremium pro",
        "*\t(any other path)\tmembers",
    ]
    r = runner.invoke(args=["rules", "test", "/files/a%20b.pdf"])
    assert r.exit_code == 0 and r.output == "/files/a b.pdf\tpremium pro\trule 2\n"
    assert runner.invoke(args=["rules", "test", "/premium"]).output.endswith("page premium.md\n")
    assert runner.invoke(args=["rules", "test", "/x"]).output == "/x\tmembers\tthe default\n"
    r = runner.invoke(args=["rules", "default", "premium"])
    assert r.exit_code == 0 and r.output == "default: premium\n"
    assert runner.invoke(args=["rules", "test", "/x"]).output == "/x\tpremium\tthe default\n"
    r = runner.invoke(args=["rules", "remove", "1"])
    assert r.exit_code == 0 and "removed /guides/* -> public" in r.output
    assert runner.invoke(args=["rules", "list"]).output.startswith("1\t/files/**\tpremium pro\n")


@pytest.mark.parametrize(
    "args",
    [
        ["add", "/a", "gold"],
        ["add", "guides/*", "public"],
        ["add", "/a", "public", "--host", "http://x.com/"],
        ["remove", "7"],
        ["default", "public", "members"],
        ["test", "/a/%252e"],
        ["import", "/nonexistent/rules.yaml"],
        ["import", "/"],
    ],
)
def test_cli_errors_are_one_line_and_exit_1(db, roles, runner, args):
    r = runner.invoke(args=["rules", *args])
    assert r.exit_code == 1, r.output
    assert r.output.startswith("Error: ") and r.output.count("\n") == 1, r.output
    assert store.stored() == []


@pytest.mark.parametrize("app", [{"ACCESS_DEFAULT": "public"}], indirect=True)
def test_the_configured_default_applies_until_one_is_stored(db, clock, roles, runner, client):
    assert store.default_who() == Who(public=True)
    assert store.current().decide("/anything").who == Who(public=True)
    assert "\tpublic\tthe default" in runner.invoke(args=["rules", "test", "/x"]).output
    assert "default: public" in edit.write_file()
    edit.set_default(Who(members=True), at=clock.now(), actor=None)
    db.session.commit()
    assert store.current().decide("/anything").who == Who(members=True)
    assert "\tmembers\tthe default" in runner.invoke(args=["rules", "test", "/x"]).output


def test_the_rules_page_lists_what_the_content_folder_cannot_serve(client, admin, login_as):
    """A page naming a role that does not exist opens to nobody: does the rules page say
    so (the tests' premium.md names `premium`, and no plan has made that role here)?"""
    login_as(admin)
    page = client.get("/admin/rules").text
    assert 'id="content-problems"' in page
    assert "premium.md: access names no role called premium" in page
