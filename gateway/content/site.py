"""The content folder in the running site: one Library per app, the pages' own rules for
the rule book, the plans that open a locked page, and what cannot be served.

A page's `access:` is a rule for its own path, checked before the stored rules (the
author wrote it on the page). A page or file whose path an app route answers is not
served (the app wins) and is reported, at start-up in the log and always on the rules
page, as are paths with `*` (a rule pattern would read it as a wildcard).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable, Sequence
from pathlib import Path

from flask import Flask, current_app, has_request_context, request
from sqlalchemy import select
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from models import Plan, Role, db, plan_roles

from ..access_rules.table import Rule, Who
from ..fastpath.kept_pages import EDITION
from ..rulebook import store
from .pages import Asset, Library, Page, Snapshot

EXTENSION = "content"
log = logging.getLogger(__name__)


def install(app: Flask) -> None:
    root = Path(app.config["CONTENT_DIR"])
    if not root.is_absolute():
        root = Path(app.instance_path) / root
    app.extensions[EXTENSION] = Library(
        root,
        allow_html=bool(app.config["CONTENT_ALLOW_HTML"]),
        check_seconds=float(app.config["CONTENT_CHECK_SECONDS"]),
    )
    app.extensions[EXTENSION + ".clashes"] = {}
    app.extensions[EXTENSION + ".rules"] = {}
    app.extensions[EXTENSION + ".edition"] = _Edition()
    store.set_page_rules(app, page_rules)
    app.extensions[EDITION] = lambda: store.current().edition
    app.jinja_env.globals["nav_sections"] = nav_sections
    app.jinja_env.globals["content_problems"] = problems  # the rules page lists them
    with app.app_context():  # no database here: `flask db upgrade` starts this way too
        for problem in problems(with_roles=False):
            log.warning("content: %s", problem)


def library() -> Library:
    found: Library = current_app.extensions[EXTENSION]
    return found


def snapshot() -> Snapshot:
    return library().current()


def find(path: str) -> Page | Asset | None:
    """The page or file served at canonical `path`, unless an app route owns it."""
    snap = snapshot()
    found = snap.pages.get(path) or snap.assets.get(path)
    if found is None or _clashes(snap).get(path):
        return None
    return found


def nav_sections() -> list[tuple[str, str]]:
    """(title, path) of the content's top-level folders and pages the visitor may open:
    the header lists them (kept per kind of visitor and edition of the rules)."""
    from ..rulebook import gate  # the gate reads the request's visitor

    snap = snapshot()
    root = snap.folders.get("/")
    if root is None:
        return []
    found = [(snap.folders[f].title, f) for f in root.folders if f in snap.folders]
    found += [(p.title, p.path) for p in root.pages if find(p.path) is p]
    host = request.host if has_request_context() else None
    return [(title, path) for title, path in found if gate.verdict(path, host).allowed]


def page_rules() -> tuple[Hashable, Sequence[tuple[Rule, str]]]:
    """Rules from pages' front matter, with a token that changes with the snapshot (built
    once per snapshot: the rule book asks on every request)."""
    snap = snapshot()
    kept: dict[int, list[tuple[Rule, str]]] = current_app.extensions[EXTENSION + ".rules"]
    rules = kept.get(_edition(snap))
    if rules is None:
        rules = [
            (Rule(page.path, page.access), f"page {_relative(snap, page)}")
            for page in snap.pages.values()
            if page.access is not None and "*" not in page.path
        ]
        kept.clear()
        kept[_edition(snap)] = rules
    return _edition(snap), rules


def problems(*, with_roles: bool = True) -> list[str]:
    """Everything in the content folder that is not served, and why; and pages naming
    roles that do not exist (`with_roles`: asks the database)."""
    snap = snapshot()
    found = list(snap.problems)
    for path, endpoint in sorted(_clashes(snap).items()):
        found.append(f"{path}: the site's own page ({endpoint}) answers this path; not served")
    names = set(db.session.scalars(select(Role.name))) if with_roles else set()
    for page in snap.pages.values() if with_roles else ():
        if page.access is not None and page.access.roles - names:
            unknown = ", ".join(sorted(page.access.roles - names))
            found.append(f"{_relative(snap, page)}: access names no role called {unknown}")
    return found


def plans_opening(who: Who) -> list[Plan]:
    """The plans on offer that grant one of `who`'s roles, cheapest first."""
    if not who.roles:
        return []
    return list(
        db.session.scalars(
            select(Plan)
            .join(plan_roles, plan_roles.c.plan_id == Plan.id)
            .join(Role, Role.id == plan_roles.c.role_id)
            .where(Plan.active.is_(True), Plan.offer_code.is_(None), Role.name.in_(who.roles))
            .distinct()
            .order_by(Plan.price, Plan.code)
        )
    )


class _Edition:
    """A number that moves whenever the library hands out a new snapshot. (Not `id()`:
    a freed snapshot's id may be reused by a later one.) Holds the latest snapshot."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.snapshot: Snapshot | None = None
        self.number = 0

    def of(self, snap: Snapshot) -> int:
        if snap is not self.snapshot:
            with self.lock:
                if snap is not self.snapshot:
                    self.snapshot, self.number = snap, self.number + 1
        return self.number


def _edition(snap: Snapshot) -> int:
    edition: _Edition = current_app.extensions[EXTENSION + ".edition"]
    return edition.of(snap)


def _clashes(snap: Snapshot) -> dict[str, str]:
    """Content paths an app route (not the content route) answers, per snapshot."""
    kept: dict[int, dict[str, str]] = current_app.extensions[EXTENSION + ".clashes"]
    found = kept.get(_edition(snap))
    if found is None:
        adapter = current_app.url_map.bind("localhost")
        found = {}
        for path in [*snap.pages, *snap.assets]:
            if path == "/":  # the folder's own index.md is the home page's intro
                continue
            endpoint = _endpoint(adapter, path)
            if "*" in path:
                found[path] = "a * in a name"
            elif endpoint is not None and not endpoint.startswith("content."):
                found[path] = endpoint
        kept.clear()
        kept[_edition(snap)] = found
    return found


def _endpoint(adapter: object, path: str) -> str | None:
    try:
        endpoint, _ = adapter.match(path, method="GET")  # type: ignore[attr-defined]
    except RequestRedirect as e:  # e.g. a trailing slash: the app's route still
        return str(e.new_url)
    except (NotFound, MethodNotAllowed):
        return None
    return str(endpoint)


def _relative(snap: Snapshot, item: Page | Asset) -> str:
    try:
        return str(item.source.relative_to(snap.root))
    except ValueError:
        return str(item.source)
