"""The content folder served through the whole app, for each kind of visitor: pages,
previews and calls to action, files (Range, ETag, HEAD), listings, cache headers, and
how soon rule and page changes are seen."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from gateway.content import site
from gateway.content.pages import Library
from gateway.rulebook import edit, store
from models import AccessRule, Setting

from .conftest import GUIDE_SECRET, KINDS, PDF, PRO_SECRET, SECRET, WITH_ROLE, no_bytes_of

pytestmark = pytest.mark.usefixtures("site_root")

#: path -> (kinds answered 200, text after the marker, text before it)
PAGES = {
    "/premium-guide": (WITH_ROLE, SECRET, "The guide's free opening."),
    "/pro/guide": (WITH_ROLE, GUIDE_SECRET, "How pros bill."),
    "/members-only": (KINDS[1:], "The members' lounge rules.", "Members' teaser."),
    "/unruled": (KINDS[1:], "No access line here.", ""),
}


def is_private(response) -> bool:
    return "private" in response.headers.get("Cache-Control", "") and "Cookie" in response.vary


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("path", PAGES)
def test_gated_pages(browsers, kind, path):
    """200 with the whole page for those the rules admit; 403 with the preview only for
    the rest (the part after the marker never sent); private either way."""
    admitted, secret, preview = PAGES[path]
    r = browsers[kind].get(path)
    assert r.status_code == (200 if kind in admitted else 403)
    body = r.get_data(as_text=True)
    assert (secret in body) is (kind in admitted)
    assert preview in body
    assert is_private(r)


@pytest.mark.parametrize("kind", KINDS)
def test_public_page_is_open_and_cacheable(browsers, kind):
    r = browsers[kind].get("/public-notes")
    assert r.status_code == 200
    assert "Open to all readers." in r.get_data(as_text=True)
    assert "private" not in r.headers.get("Cache-Control", "")


def test_calls_to_action(browsers):
    """Anonymous: log in (and come back); a member: the plans granting the page's role,
    with prices; a lapsed member: when access ended."""
    anon = browsers["anonymous"].get("/premium-guide").get_data(as_text=True)
    assert "/auth/login?next=/premium-guide" in anon
    assert "The rest is for subscribers." in anon

    member = browsers["member"].get("/premium-guide").get_data(as_text=True)
    assert "These plans open it:" in member
    assert "Premium-Monthly</strong>: 9.00 USD every month" in member
    assert "All-Access</strong>: 29.00 USD every month" in member
    assert "Pro-Monthly" not in member
    assert "/auth/login" not in member.split('id="cta"')[1]

    pro = browsers["member"].get("/pro/guide").get_data(as_text=True)
    assert "Pro-Monthly</strong>: 19.00 USD" in pro and "Premium-Monthly" not in pro

    lapsed = browsers["lapsed"].get("/premium-guide").get_data(as_text=True)
    assert "Your access ended on" in lapsed

    members = browsers["anonymous"].get("/members-only").get_data(as_text=True)
    assert "The rest is for members." in members
    assert "/auth/login?next=/members-only" in members
    assert "These plans" not in members and "This plan" not in members


FILE = "/pro/files/handbook.pdf"


@pytest.mark.parametrize("kind", WITH_ROLE)
def test_file_for_those_admitted(browsers, kind):
    browser = browsers[kind]
    r = browser.get(FILE)
    assert r.status_code == 200 and r.data == PDF
    assert r.mimetype == "application/pdf" and is_private(r)
    assert r.headers["Accept-Ranges"] == "bytes"

    tail = browser.get(FILE, headers={"Range": "bytes=-1024"})
    assert tail.status_code == 206 and tail.data == PDF[-1024:]
    assert tail.headers["Content-Range"] == f"bytes {len(PDF) - 1024}-{len(PDF) - 1}/{len(PDF)}"
    assert is_private(tail)

    again = browser.get(FILE, headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


@pytest.mark.parametrize("kind", ["anonymous", "member", "lapsed"])
@pytest.mark.parametrize("headers", [{}, {"Range": "bytes=-1024"}, {"Range": "bytes=0-"}])
def test_file_refused_without_one_byte(browsers, kind, headers):
    r = browsers[kind].get(FILE, headers=headers)
    assert r.status_code == 403
    assert no_bytes_of(PDF, r.data) and b"%PDF" not in r.data
    assert "Content-Range" not in r.headers and is_private(r)


def test_file_etag_does_not_open_it(browsers):
    """A 304 would tell a visitor without access that their copy is current."""
    etag = browsers["subscriber"].get(FILE).headers["ETag"]
    r = browsers["member"].get(FILE, headers={"If-None-Match": etag})
    assert r.status_code == 403


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "path",
    ["/premium-guide.md", "/pro/index.md", "/pro/guide.md", "/public-notes.md", "/PRO/GUIDE.MD"],
)
def test_markdown_sources_are_never_served(browsers, kind, path):
    r = browsers[kind].get(path)
    assert r.status_code == 404
    assert b"access:" not in r.data
    for secret in (SECRET, PRO_SECRET, GUIDE_SECRET):
        assert secret.encode() not in r.data


@pytest.mark.parametrize("kind", KINDS)
def test_folder_listing(browsers, kind):
    """Titles and summaries for everyone, open or locked; the intro whole only for those
    who may read it; no locked page's body."""
    open_ = kind in WITH_ROLE
    cls = "open" if open_ else "locked"
    r = browsers[kind].get("/pro")
    assert r.status_code == 200 and is_private(r)
    body = r.get_data(as_text=True)
    assert f'<li class="{cls}"><a href="/pro/guide">Pro billing guide</a>' in body
    assert "Billing for pros." in body
    assert "The pro corner's doorway." in body
    assert (PRO_SECRET in body) is open_
    assert GUIDE_SECRET not in body and "How pros bill." not in body
    files = browsers[kind].get("/pro/files").get_data(as_text=True)
    assert f'<li class="{cls}"><a href="/pro/files/handbook.pdf">handbook.pdf</a>' in files


@pytest.mark.parametrize(
    ("kind", "path", "status"),
    [
        ("anonymous", "/premium-guide", 403),
        ("subscriber", "/premium-guide", 200),
        ("anonymous", "/public-notes", 200),
        ("member", FILE, 403),
        ("subscriber", FILE, 200),
        ("anonymous", "/pro", 200),
        ("anonymous", "/nowhere", 404),
    ],
)
def test_head_is_get_without_body(browsers, kind, path, status):
    get, head = browsers[kind].get(path), browsers[kind].head(path)
    assert head.status_code == get.status_code == status
    assert head.data == b""
    for name in ("Content-Type", "Cache-Control", "Vary", "Content-Length", "ETag"):
        assert head.headers.get(name) == get.headers.get(name), name


@pytest.mark.parametrize("kind", ["anonymous", "subscriber"])
def test_home_lists_the_content_root(browsers, kind):
    body = browsers[kind].get("/").get_data(as_text=True)
    premium = "open" if kind == "subscriber" else "locked"
    assert '<li class="open"><a href="/public-notes">Public notes</a>' in body
    assert f'<li class="{premium}"><a href="/premium-guide">Premium guide</a>' in body
    assert '<a href="/pro">Pro corner</a>' in body
    assert SECRET not in body
    assert "Content account" not in body  # an app route owns /account


def test_stored_rule_change_seen_on_the_next_request(browsers, pro_rule, db, clock):
    member = browsers["member"]
    assert member.get(FILE).status_code == 403
    edit.remove(pro_rule, at=clock.now(), actor=None)
    db.session.commit()
    assert member.get(FILE).status_code == 200  # the default: members
    assert browsers["anonymous"].get(FILE).status_code == 403
    edit.add(edit.Entry(edit.check("/pro/files/**", "premium")), at=clock.now(), actor=None)
    db.session.commit()
    assert member.get(FILE).status_code == 403


def other_process_opens_unruled(db, at) -> None:
    """What `flask rules add /unruled public` in another process writes."""
    with db.engine.begin() as conn:
        conn.execute(
            sa.insert(AccessRule).values(
                position=50, pattern="/unruled", who="public", note="", updated_at=at
            )
        )
        conn.execute(
            sa.update(Setting)
            .where(Setting.key == store.VERSION_KEY)
            .values(value="from-another-process")
        )


def test_other_process_change_seen_after_check_seconds(browsers, db, clock, monkeypatch):
    """RULES_CHECK_SECONDS (1 s): another process's change is not read before, and is
    read after."""
    at = [1000.0]
    monkeypatch.setattr(store, "time", SimpleNamespace(monotonic=lambda: at[0]))
    anon = browsers["anonymous"]
    assert anon.get("/unruled").status_code == 403
    other_process_opens_unruled(db, clock.now())
    at[0] += 0.9
    assert anon.get("/unruled").status_code == 403
    at[0] += 0.2
    assert anon.get("/unruled").status_code == 200


@pytest.mark.parametrize("app", [{"RULES_CHECK_SECONDS": 0}], indirect=True)
def test_other_process_change_seen_at_once_with_zero(browsers, db, clock):
    anon = browsers["anonymous"]
    assert anon.get("/unruled").status_code == 403
    other_process_opens_unruled(db, clock.now())
    assert anon.get("/unruled").status_code == 200


def test_page_edits_picked_up_after_check_seconds(app, site_root, browsers):
    at = [0.0]
    app.extensions[site.EXTENSION] = Library(site_root, check_seconds=2.0, clock=lambda: at[0])
    anon = browsers["anonymous"]
    assert anon.get("/unruled").status_code == 403
    (site_root / "fresh.md").write_text("---\naccess: public\n---\nJust written.\n")
    (site_root / "unruled.md").write_text("---\naccess: public\n---\nNow public, longer.\n")
    at[0] = 1.5
    assert anon.get("/fresh").status_code == 404
    at[0] = 2.5
    r = anon.get("/fresh")
    assert r.status_code == 200 and b"Just written." in r.data
    assert anon.get("/unruled").status_code == 200  # its page rule changed too
    (site_root / "fresh.md").unlink()
    at[0] = 5.0
    assert anon.get("/fresh").status_code == 404


@pytest.mark.parametrize("app", [{"CONTENT_CHECK_SECONDS": 0}], indirect=True)
def test_page_edits_picked_up_at_once_with_zero(site_root, browsers):
    (site_root / "fresh.md").write_text("---\naccess: public\n---\nJust written.\n")
    assert browsers["anonymous"].get("/fresh").status_code == 200


@pytest.mark.parametrize("kind", ["anonymous", "admin"])
def test_app_routes_win_over_content(browsers, kind):
    browser = browsers[kind]
    account = browser.get("/account")
    assert b"CONTENT ACCOUNT PAGE" not in account.data
    assert account.status_code == (302 if kind == "anonymous" else 200)
    login = browser.get("/auth/login")
    assert b"CONTENT LOGIN PAGE" not in login.data
    found = "\n".join(site.problems())
    assert "/account: the site's own page (member.account) answers this path" in found
    assert "/auth/login: the site's own page (auth.login) answers this path" in found


def test_get_on_a_post_only_route_is_405(browsers):
    assert browsers["anonymous"].get("/auth/logout").status_code == 405
    assert browsers["member"].get("/auth/logout").status_code == 405
    assert browsers["member"].head("/auth/logout").status_code == 405


@pytest.mark.parametrize(("method", "path"), [("GET", "/auth/logout"), ("PUT", "/plans")])
def test_405_names_the_allowed_methods(browsers, method, path):
    """RFC 9110 15.5.6: a 405 must carry Allow."""
    r = browsers["anonymous"].open(path, method=method)
    assert r.status_code == 405 and r.headers.get("Allow")
