"""A folder's listing for the current visitor: its intro (whole if they may read it, else
its preview), subfolders, pages and files, each open or locked. Titles and summaries
are public; nothing else of a locked page is."""

from __future__ import annotations

from typing import Any

from flask import request
from markupsafe import Markup

from ..rulebook import gate
from . import site


def listing(path: str) -> dict[str, Any]:
    """Template values for the folder at canonical `path` ({"folder": None} if none)."""
    snap = site.snapshot()
    folder = snap.folders.get(path)
    if folder is None:
        return {"folder": None}
    host = request.host

    def allowed(item_path: str) -> bool:
        return gate.verdict(item_path, host).allowed

    intro_html = ""
    if folder.intro is not None:
        intro_html = (
            folder.intro.body_html if allowed(folder.intro.path) else folder.intro.preview_html
        )
    return {
        "folder": folder,
        "intro": Markup(intro_html),
        "folders": [snap.folders[f] for f in folder.folders if f in snap.folders],
        "items": [(p, allowed(p.path)) for p in folder.pages if site.find(p.path) is p],
        "files": [(a, allowed(a.path)) for a in folder.assets if site.find(a.path) is a],
    }
