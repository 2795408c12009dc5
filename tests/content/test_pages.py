"""The content folder as served: paths, index pages, folders, what is skipped or refused
(hidden files, escaping symlinks, collisions), and the Library's cheap reloads."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest

from gateway.access_rules.table import Who
from gateway.content import pages, render
from gateway.content.pages import Library, scan
from tests.test_imports import ROOT, imported_full

PAID = "PAID-PART-7f3a"


def write(root: Path, rel: str, text: str | bytes = "text\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def problem_for(snapshot: pages.Snapshot, rel: str) -> str:
    found = [p for p in snapshot.problems if p.startswith(rel + ":")]
    assert len(found) == 1, snapshot.problems
    return found[0]


#: The content folder read and rendered; the rest of gateway/content serves it in the app.
PURE = ("pages.py", "render.py", "walk.py")


def test_content_is_pure():
    """Do the folder's reader and renderer import nothing of Flask, the database or the
    rest of the gateway but the access rules?"""
    folder = ROOT / "gateway" / "content"
    names = set().union(*(imported_full(folder / name) for name in PURE))
    ours = {n for n in names if n.split(".")[0] in ("gateway", "models")}
    outside = {n for n in ours if not n.startswith("gateway.content")}
    assert outside <= {"gateway.access_rules.paths", "gateway.access_rules.table"}
    assert not {n.split(".")[0] for n in names} & {"flask", "sqlalchemy", "werkzeug"}


# --- paths ----------------------------------------------------------------------------


def test_paths_are_canonical(tmp_path):
    write(tmp_path, "guides/Start.md", "# Start\n")
    write(tmp_path, "About Us.md")
    write(tmp_path, "files/Handbook.PDF", b"%PDF-1.4")
    write(tmp_path, "notes.", "x")  # trailing dot folded away
    snap = scan(tmp_path)
    assert set(snap.pages) == {"/guides/start", "/about us"}
    assert set(snap.assets) == {"/files/handbook.pdf", "/notes"}
    page = snap.pages["/guides/start"]
    assert page.source == tmp_path.resolve() / "guides" / "Start.md"
    assert page.mtime_ns == os.stat(page.source).st_mtime_ns
    asset = snap.assets["/files/handbook.pdf"]
    assert asset.size == 8 and asset.source.name == "Handbook.PDF"
    assert snap.problems == ()


def test_index_pages_are_their_folders(tmp_path):
    write(tmp_path, "index.md", "---\ntitle: Welcome\naccess: public\n---\nHi\n")
    write(tmp_path, "guides/index.md", "# All the guides\n")
    write(tmp_path, "guides/deep/INDEX.md", "deep intro\n")
    snap = scan(tmp_path)
    assert set(snap.pages) == {"/", "/guides", "/guides/deep"}
    assert snap.folders["/"].intro is snap.pages["/"]
    assert snap.folders["/"].title == "Welcome"
    assert snap.folders["/guides"].title == "All the guides"
    assert snap.pages["/guides/deep"].title == "Deep"  # named after its folder
    assert snap.folders["/guides"].pages == ()  # its own index.md is the intro, not a child


def test_markdown_is_never_an_asset(tmp_path):
    write(tmp_path, "a.md", f"free\n<!-- more -->\n{PAID}\n")
    write(tmp_path, "B.MD", "upper case\n")
    write(tmp_path, "c.md.", "trailing dot\n")
    snap = scan(tmp_path)
    assert snap.assets == {}
    assert set(snap.pages) == {"/a", "/b", "/c"}


def test_titles_fall_back_to_the_file_name(tmp_path):
    write(tmp_path, "guides/getting-started.md", "no heading\n")
    write(tmp_path, "my_cool_folder/x.md", "# X\n")
    snap = scan(tmp_path)
    assert snap.pages["/guides/getting-started"].title == "Getting Started"
    assert snap.folders["/my_cool_folder"].title == "My Cool Folder"
    assert snap.folders["/"].title == "Home"


def test_folders_list_their_children(tmp_path):
    write(tmp_path, "blog/old.md", "---\ndate: 2025-01-01\ntitle: Old\n---\n")
    write(tmp_path, "blog/new.md", "---\ndate: 2026-01-01\ntitle: New\n---\n")
    write(tmp_path, "blog/b-undated.md", "---\ntitle: Bravo\n---\n")
    write(tmp_path, "blog/a-undated.md", "---\ntitle: alpha\n---\n")
    write(tmp_path, "blog/same-day.md", "---\ndate: 2026-01-01\ntitle: Another\n---\n")
    write(tmp_path, "blog/index.md", "# Blog\n")
    write(tmp_path, "blog/files/x.pdf", b"x")
    write(tmp_path, "blog/cover.png", b"png")
    write(tmp_path, "blog/2024/post.md")
    snap = scan(tmp_path)
    blog = snap.folders["/blog"]
    titles = [p.title for p in blog.pages]
    assert titles == ["Another", "New", "Old", "alpha", "Bravo"]
    assert blog.pages[1].date == datetime.date(2026, 1, 1)
    assert blog.folders == ("/blog/2024", "/blog/files")
    assert [a.path for a in blog.assets] == ["/blog/cover.png"]
    assert blog.intro is not None and blog.intro.title == "Blog"
    assert snap.folders["/"].folders == ("/blog",)
    assert snap.folders["/blog/files"].assets[0].path == "/blog/files/x.pdf"


def test_snapshot_is_read_only(tmp_path):
    write(tmp_path, "a.md")
    snap = scan(tmp_path)
    with pytest.raises(TypeError):
        snap.pages["/b"] = snap.pages["/a"]  # type: ignore[index]


def test_missing_root_is_an_empty_snapshot(tmp_path):
    snap = scan(tmp_path / "nowhere")
    assert (snap.pages, snap.assets, snap.folders, snap.problems) == ({}, {}, {}, ())
    assert Library(tmp_path / "nowhere").current().pages == {}


# --- skipped and refused --------------------------------------------------------------


def test_hidden_drafts_and_leftovers_are_skipped(tmp_path):
    for rel in [
        ".env",
        ".draft.md",
        ".git/config",
        ".git/notes.md",
        "guides/.hidden/secret.md",
        "guides/.DS_Store",
        "_partial.md",
        "_drafts/next.md",
        "guides/start.md~",
        "guides/.start.md.swp",
        "guides/start.md.swp",
        "guides/#start.md#",
    ]:
        write(tmp_path, rel, "secret\n")
    write(tmp_path, "guides/start.md", "# Start\n")
    snap = scan(tmp_path)
    assert set(snap.pages) == {"/guides/start"}
    assert snap.assets == {}
    assert set(snap.folders) == {"/", "/guides"}
    assert snap.problems == ()


def test_bad_pages_are_refused_and_reported(tmp_path):
    write(tmp_path, "good.md", "# Good\n")
    write(tmp_path, "guides/bad-yaml.md", "---\ntitle: [x\n---\n")
    write(tmp_path, "bad-access.md", "---\naccess: public, premium\n---\nsecret\n")
    write(tmp_path, "latin1.md", "caf\xe9\n".encode("latin-1"))
    snap = scan(tmp_path)
    assert set(snap.pages) == {"/good"}
    assert "line 2" in problem_for(snap, "guides/bad-yaml.md")
    assert "access" in problem_for(snap, "bad-access.md")
    assert "UTF-8" in problem_for(snap, "latin1.md")
    assert len(snap.problems) == 3


def test_refused_index_hides_the_folder_listing_not_its_pages(tmp_path):
    write(tmp_path, "pro/index.md", "---\naccess: pro!\n---\n")
    write(tmp_path, "pro/workshop.md", "---\naccess: pro\n---\n")
    snap = scan(tmp_path)
    assert "/pro" not in snap.folders and "/pro" not in snap.pages
    assert snap.pages["/pro/workshop"].access == Who(roles=frozenset({"pro"}))
    assert problem_for(snap, "pro/index.md")


@pytest.mark.parametrize(
    "names",
    [
        ("Guide.md", "guide.md"),
        ("a.md", "a/index.md"),
        ("x.md", "X"),  # a page and a file
        ("café.md", "cafe\u0301.md"),  # the same name in NFC and NFD
        ("sub/x.pdf", "SUB/X.pdf"),
    ],
)
def test_collisions_serve_neither(tmp_path, names):
    for name in names:
        write(tmp_path, name, f"{PAID}\n")
    snap = scan(tmp_path)
    assert snap.pages == {} and snap.assets == {}
    for name in names:
        message = problem_for(snap, name)
        assert "same web address" in message
        assert [n for n in names if n != name][0] in message


def test_folder_and_page_on_one_path_keep_the_page(tmp_path):
    write(tmp_path, "guides.md", "# Guides\n")
    write(tmp_path, "guides/one.md")
    snap = scan(tmp_path)
    assert set(snap.pages) == {"/guides", "/guides/one"}
    assert "/guides" not in snap.folders
    assert "not listed" in problem_for(snap, "guides/")


def test_refused_names(tmp_path):
    write(tmp_path, "%2e.md")
    write(tmp_path, "ok%41.pdf", b"x")
    write(tmp_path, "%2e%2e/inside.md")
    write(tmp_path, "fine.md")
    snap = scan(tmp_path)
    assert set(snap.pages) == {"/fine"} and snap.assets == {}
    assert "web address" in problem_for(snap, "%2e.md")
    assert problem_for(snap, "ok%41.pdf")
    assert problem_for(snap, "%2e%2e/")  # the folder, once, not each file in it
    assert len(snap.problems) == 3


def test_symlinks_inside_are_followed(tmp_path):
    root = tmp_path / "content"
    write(root, "real/page.md", "# Real\n")
    write(root, "files/a.pdf", b"pdf")
    (root / "alias.md").symlink_to(root / "real" / "page.md")
    (root / "more").symlink_to(root / "real", target_is_directory=True)
    snap = scan(root)
    assert {"/real/page", "/alias", "/more/page"} <= set(snap.pages)
    assert snap.pages["/alias"].source == (root / "real" / "page.md").resolve()
    assert snap.problems == ()


def test_symlinks_outside_are_refused(tmp_path):
    root = tmp_path / "content"
    outside = tmp_path / "outside"
    write(outside, "secret.md", f"{PAID}\n")
    write(outside, "secret.pdf", PAID.encode())
    write(root, "ok.md")
    (root / "leak.md").symlink_to(outside / "secret.md")
    (root / "leak.pdf").symlink_to(outside / "secret.pdf")
    (root / "leakdir").symlink_to(outside, target_is_directory=True)
    (root / "etc").symlink_to("/etc", target_is_directory=True)
    (root / "dangling.md").symlink_to(root / "gone.md")
    (root / "to-hidden.md").symlink_to(root / ".secret.md")
    write(root, ".secret.md", PAID)
    snap = scan(root)
    assert set(snap.pages) == {"/ok"} and snap.assets == {}
    assert set(snap.folders) == {"/"}
    for rel in ("leak.md", "leak.pdf", "leakdir", "etc"):
        assert "outside the content folder" in problem_for(snap, rel)
    assert "cannot be read" in problem_for(snap, "dangling.md")
    assert "skipped" in problem_for(snap, "to-hidden.md")


def test_symlink_loops_are_not_followed(tmp_path):
    write(tmp_path, "a/page.md")
    write(tmp_path, "b/page.md")
    (tmp_path / "a" / "up").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "a" / "to-b").symlink_to(tmp_path / "b", target_is_directory=True)
    (tmp_path / "b" / "to-a").symlink_to(tmp_path / "a", target_is_directory=True)
    snap = scan(tmp_path)
    assert "loop" in problem_for(snap, "a/up")
    assert "loop" in problem_for(snap, "a/to-b/to-a")
    assert "loop" in problem_for(snap, "b/to-a/to-b")
    assert {"/a/page", "/b/page", "/a/to-b/page", "/b/to-a/page"} == set(snap.pages)


def test_special_files_are_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe.md")  # reading it would block the scan forever
    snap = scan(tmp_path)
    assert "not a plain file" in problem_for(snap, "pipe.md")


# --- the Library ----------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def renders(monkeypatch):
    """How many pages were rendered (read and parsed)."""
    calls: list[str] = []
    real = render.render_page

    def counting(text: str, *, allow_html: bool = False) -> render.Rendered:
        calls.append(text)
        return real(text, allow_html=allow_html)

    monkeypatch.setattr(render, "render_page", counting)
    return calls


def bump(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_library_rechecks_only_after_check_seconds_and_renders_only_changes(tmp_path, renders):
    for i in range(20):
        write(tmp_path, f"p{i}.md", f"# Page {i}\n")
    clock = Clock()
    library = Library(tmp_path, check_seconds=2.0, clock=clock)
    first = library.current()
    assert len(first.pages) == 20 and len(renders) == 20

    clock.now += 5  # due for a check, but nothing changed: same snapshot, no render
    assert library.current() is first and len(renders) == 20

    bump(tmp_path / "p3.md", "# Edited\n")
    clock.now += 1  # not yet due
    assert library.current() is first
    clock.now += 1.5
    second = library.current()
    assert second is not first and second.pages["/p3"].title == "Edited"
    assert len(renders) == 21  # only the edited page
    assert second.pages["/p4"].body_html == first.pages["/p4"].body_html


def test_library_sees_added_and_removed_files(tmp_path, renders):
    write(tmp_path, "a.md")
    clock = Clock()
    library = Library(tmp_path, clock=clock)
    assert set(library.current().pages) == {"/a"}
    write(tmp_path, "b.md")
    (tmp_path / "a.md").unlink()
    clock.now += 2
    assert set(library.current().pages) == {"/b"}
    assert len(renders) == 2


def test_library_without_its_folder_stays_empty_then_fills(tmp_path):
    clock = Clock()
    library = Library(tmp_path / "content", clock=clock)
    assert library.current().pages == {}
    write(tmp_path / "content", "a.md")
    clock.now += 2
    assert set(library.current().pages) == {"/a"}


def test_a_refused_page_is_not_rerendered_either(tmp_path, renders):
    write(tmp_path, "bad.md", "---\naccess: [\n---\n")
    clock = Clock()
    library = Library(tmp_path, clock=clock)
    assert library.current().problems and len(renders) == 1
    write(tmp_path, "other.md")
    clock.now += 2
    assert library.current().problems and len(renders) == 2  # other.md alone


def test_allow_html_reaches_the_renderer(tmp_path):
    write(tmp_path, "a.md", "<b>x</b>\n")
    assert "&lt;b&gt;" in scan(tmp_path).pages["/a"].body_html
    assert "<b>x</b>" in Library(tmp_path, allow_html=True).current().pages["/a"].body_html


def test_two_thousand_pages(tmp_path, renders):
    for i in range(2000):
        write(tmp_path, f"section{i % 20}/page-{i}.md", f"---\ntitle: P{i}\n---\nText {i}\n")
    clock = Clock()
    library = Library(tmp_path, clock=clock)
    snap = library.current()
    assert len(snap.pages) == 2000 and len(snap.folders) == 21
    assert len(snap.folders["/section7"].pages) == 100
    clock.now += 2
    assert library.current() is snap and len(renders) == 2000


def test_demo_content_scans_cleanly():
    snap = scan(ROOT / "demo" / "content")
    assert snap.problems == ()
    assert set(snap.pages) >= {"/", "/guides", "/guides/premium-playbook", "/pro/workshop"}
    assert "/pro/files/pro-handbook.pdf" in snap.assets
    playbook = snap.pages["/guides/premium-playbook"]
    assert playbook.access == Who(roles=frozenset({"premium"})) and playbook.has_more
    assert "<table>" in playbook.body_html and "<table>" not in playbook.preview_html
    assert snap.pages["/"].access == Who(public=True)
