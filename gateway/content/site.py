"""The content folder in the running site: one Library per app, the pages' own rules for
the rule book, the plans that open a locked page, and what cannot be served.

A page's `access:` is a rule for its own path, checked before the stored rules (the
author wrote it on the page). A page or file whose path an app route answers is not
served (the app wins) and is reported, at start-up in the log and always on the rules
page, as are paths with `*` (a rule pattern would read it as a wildcard).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import select
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from models import Plan, Role, db, plan_roles

from ..access_rules.table import Rule, Who
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
    store.set_page_rules(app, page_rules)
    with app.app_context():
        for problem in problems():
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


def page_rules() -> tuple[Hashable, Sequence[tuple[Rule, str]]]:
    """Rules from pages' front matter, with a token that changes with the snapshot."""
    snap = snapshot()
    rules = [
        (Rule(page.path, page.access), f"page {_relative(snap, page)}")
        for page in snap.pages.values()
        if page.access is not None and "*" not in page.path
    ]
    return id(snap), rules


def problems() -> list[str]:
    """Everything in the content folder that is not served, and why."""
    snap = snapshot()
    found = list(snap.problems)
    for path, endpoint in sorted(_clashes(snap).items()):
        found.append(f"{path}: the site's own page ({endpoint}) answers this path; not served")
    names = {r for r, in db.session.execute(select(Role.name))}
    for page in snap.pages.values():
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
            .where(Plan.active.is_(True), Role.name.in_(who.roles))
            .distinct()
            .order_by(Plan.price, Plan.code)
        )
    )


def _clashes(snap: Snapshot) -> dict[str, str]:
    """Content paths an app route (not the content route) answers, per snapshot."""
    kept: dict[int, dict[str, str]] = current_app.extensions[EXTENSION + ".clashes"]
    found = kept.get(id(snap))
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
        kept[id(snap)] = found
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
