"""The content folder as the site serves it: Markdown pages, other files (assets) and
folders, by canonical URL path. No Flask and no database: the routes ask a `Library`
for its `current()` snapshot and serve from it.

Paths are the access rules' canonical form (`access_rules.paths.canonical_text`), so a
page is found, and judged, under exactly the path the gate sees. Whatever cannot be
given one unambiguous path is not served and is named in `Snapshot.problems`: two files
on the same path (`Guide.md` and `guide.md`, `a.md` and `a/index.md`, a page and a
file), names the canonical form refuses, pages whose front matter cannot be read. A
`.md` file is only ever a page: its raw text, paid part included, is never a download.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType

from ..access_rules.paths import BadPath, canonical_text
from ..access_rules.table import Who
from . import render
from .walk import Entry, Listing, walk

#: Larger Markdown files are refused rather than rendered on a request's thread.
MAX_PAGE_BYTES = 2 * 1024 * 1024
INDEX = "index"
PAGE, INTRO, ASSET = "page", "intro", "asset"


@dataclass(frozen=True)
class Page:
    path: str  # canonical URL path: "guides/Start.md" -> "/guides/start"
    source: Path
    title: str
    summary: str  # public, shown in listings
    date: date | None
    access: Who | None  # None: the site's rules decide
    preview_html: str  # the part before the marker ("" without one), sanitised
    body_html: str  # the whole page, marker removed, sanitised
    has_more: bool
    mtime_ns: int


@dataclass(frozen=True)
class Asset:
    path: str
    source: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Folder:
    path: str
    title: str
    pages: tuple[Page, ...]  # newest first (undated last), then by title
    folders: tuple[str, ...]
    assets: tuple[Asset, ...]
    intro: Page | None  # the folder's index.md


@dataclass(frozen=True)
class Snapshot:
    root: Path
    pages: Mapping[str, Page]
    assets: Mapping[str, Asset]
    folders: Mapping[str, Folder]
    problems: tuple[str, ...]  # one per refused file: "rel/path: why"


#: A rendered page or why it was refused, kept per file with the (mtime_ns, size) it
#: was rendered from.
Loaded = render.Rendered | str
Cache = dict[Path, tuple[tuple[int, int], Loaded]]


def scan(root: Path, *, allow_html: bool = False) -> Snapshot:
    """The content folder at `root` as it is now (empty if there is none)."""
    return build(walk(root), {}, allow_html=allow_html)


class Library:
    """The latest snapshot of a content folder, shared by threads.

    `current()` looks at the folder at most once per `check_seconds`, and then only lists
    it (no file is read unless its modification time or size changed); an edited page is
    re-rendered alone.
    """

    def __init__(
        self,
        root: Path,
        *,
        allow_html: bool = False,
        check_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = Path(root)
        self.allow_html = allow_html
        self.check_seconds = check_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._signature: tuple[object, ...] | None = None
        self._checked_at = 0.0
        self._cache: Cache = {}

    def current(self) -> Snapshot:
        snapshot = self._snapshot
        if snapshot is not None:
            if self._clock() - self._checked_at < self.check_seconds:
                return snapshot
            if not self._lock.acquire(blocking=False):
                return snapshot  # another thread is checking; this one is fresh enough
        else:
            self._lock.acquire()
        try:
            return self._check()
        finally:
            self._lock.release()

    def _check(self) -> Snapshot:
        now = self._clock()
        if self._snapshot is not None and now - self._checked_at < self.check_seconds:
            return self._snapshot  # checked by the thread we waited for
        listing = walk(self.root)
        self._checked_at = now
        if self._snapshot is None or listing.signature != self._signature:
            self._snapshot = build(listing, self._cache, allow_html=self.allow_html)
            self._signature = listing.signature
        return self._snapshot


def build(listing: Listing, cache: Cache, *, allow_html: bool) -> Snapshot:
    """The snapshot for `listing`, reusing (and updating) `cache`: only files whose
    modification time or size changed are read again."""
    problems = list(listing.problems)
    claims: dict[str, list[tuple[Entry, str]]] = {}  # path -> [(file, PAGE, INTRO or ASSET)]
    folder_entries: dict[str, Entry] = {}
    bad_folders: list[str] = []
    for entry in listing.entries:
        if any(entry.rel.startswith(bad + "/") for bad in bad_folders):
            continue  # its folder's name was refused already
        try:
            path = canonical_text("/" + entry.rel)
            # Decided on the canonical name, so `A.MD` or `a.md.` is a page too, never a
            # download of its source.
            kind = PAGE if not entry.is_dir and path.endswith(".md") else ASSET
            if kind == PAGE:
                path = canonical_text(path[: -len(".md")])
        except BadPath as e:
            problems.append(f"{_shown(entry)}: the name cannot be a web address ({e})")
            if entry.is_dir:
                bad_folders.append(entry.rel)
            continue
        if entry.is_dir:
            folder_entries.setdefault(path, entry)  # "Guides/" and "guides/" list as one
            continue
        if kind == PAGE and path.rsplit("/", 1)[1] == INDEX:
            path, kind = path[: -len(INDEX)].rstrip("/") or "/", INTRO
        claims.setdefault(path, []).append((entry, kind))

    pages: dict[str, Page] = {}
    assets: dict[str, Asset] = {}
    refused: set[str] = set()
    fresh: Cache = {}
    for path, claimants in claims.items():
        if len(claimants) > 1:
            names = [_shown(entry) for entry, _ in claimants]
            for name in names:
                others = ", ".join(n for n in names if n != name)
                problems.append(f"{name}: same web address {path} as {others}; neither served")
            refused.add(path)
            continue
        entry, kind = claimants[0]
        if kind == ASSET:
            assets[path] = Asset(path, entry.source, entry.size, entry.mtime_ns)
            continue
        loaded = _load(entry, cache, fresh, allow_html)
        if isinstance(loaded, str):
            problems.append(f"{entry.rel}: {loaded}")
            refused.add(path)
            continue
        pages[path] = _page(path, entry, loaded)
    cache.clear()
    cache.update(fresh)

    intros = {path for path, claimants in claims.items() if claimants[0][1] == INTRO}
    folders = _folders(folder_entries, pages, assets, refused, intros, problems)
    return Snapshot(
        root=listing.root,
        pages=MappingProxyType(pages),
        assets=MappingProxyType(assets),
        folders=MappingProxyType(folders),
        problems=tuple(sorted(problems)),
    )


def _load(entry: Entry, cache: Cache, fresh: Cache, allow_html: bool) -> Loaded:
    stamp = (entry.mtime_ns, entry.size)
    cached = cache.get(entry.source)
    if cached is not None and cached[0] == stamp:
        fresh[entry.source] = cached
        return cached[1]
    loaded: Loaded
    if entry.size > MAX_PAGE_BYTES:
        loaded = f"larger than {MAX_PAGE_BYTES // (1024 * 1024)} MiB"
    else:
        try:
            text = entry.source.read_bytes().decode("utf-8-sig")
            loaded = render.render_page(text, allow_html=allow_html)
        except OSError as e:
            loaded = f"cannot be read ({e.strerror})"
        except UnicodeDecodeError:
            loaded = "not UTF-8 text"
        except render.PageError as e:
            loaded = str(e)
    fresh[entry.source] = (stamp, loaded)
    return loaded


def _page(path: str, entry: Entry, rendered: render.Rendered) -> Page:
    name = entry.rel.rsplit("/", 1)[-1]
    stem = name[: -len(".md")] if name.lower().endswith(".md") else name
    if stem.lower() == INDEX:  # an intro is named after its folder
        stem = entry.rel.rsplit("/", 2)[-2] if "/" in entry.rel else "Home"
    return Page(
        path=path,
        source=entry.source,
        title=rendered.title or humanise(stem),
        summary=rendered.summary,
        date=rendered.date,
        access=rendered.access,
        preview_html=rendered.preview_html,
        body_html=rendered.body_html,
        has_more=rendered.has_more,
        mtime_ns=entry.mtime_ns,
    )


def _folders(
    entries: Mapping[str, Entry],
    pages: Mapping[str, Page],
    assets: Mapping[str, Asset],
    refused: set[str],
    intros: set[str],
    problems: list[str],
) -> dict[str, Folder]:
    """Every folder that can be listed: not one whose index.md was refused (its intro
    would decide how it is shown), nor one on the same path as another file."""
    listed: dict[str, Entry] = {}
    for path, entry in entries.items():
        if path in refused:
            continue
        if path in assets or (path in pages and path not in intros):
            problems.append(f"{entry.rel}/: not listed, a file has its web address {path}")
            continue
        listed[path] = entry
    child_pages: dict[str, list[Page]] = {path: [] for path in listed}
    child_assets: dict[str, list[Asset]] = {path: [] for path in listed}
    child_folders: dict[str, list[str]] = {path: [] for path in listed}
    for page in pages.values():
        if page.path not in listed and _parent(page.path) in listed:
            child_pages[_parent(page.path)].append(page)
    for asset in assets.values():
        if _parent(asset.path) in listed:
            child_assets[_parent(asset.path)].append(asset)
    for path in listed:
        if path != "/" and _parent(path) in listed:
            child_folders[_parent(path)].append(path)

    folders: dict[str, Folder] = {}
    for path, entry in listed.items():
        intro = pages.get(path)
        name = entry.rel.rsplit("/", 1)[-1] if entry.rel else "Home"
        folders[path] = Folder(
            path=path,
            title=intro.title if intro else humanise(name),
            pages=tuple(sorted(child_pages[path], key=_newest_first)),
            folders=tuple(sorted(child_folders[path])),
            assets=tuple(sorted(child_assets[path], key=lambda a: a.path)),
            intro=intro,
        )
    return folders


def humanise(name: str) -> str:
    """`getting-started` -> `Getting Started`: - and _ as spaces, each word capitalised
    (the rest of a word is kept: `PDFs` stays)."""
    words = name.replace("-", " ").replace("_", " ").split()
    return " ".join(w[:1].upper() + w[1:] for w in words) or name


def _newest_first(page: Page) -> tuple[bool, int, str, str]:
    day = page.date.toordinal() if page.date else 0
    return (page.date is None, -day, page.title.casefold(), page.path)


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


def _shown(entry: Entry) -> str:
    return entry.rel + "/" if entry.is_dir else entry.rel
