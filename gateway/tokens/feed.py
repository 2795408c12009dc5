"""A member's private Atom feed: the content as that member may read it now.

Each page is judged for the feed's owner (rulebook.gate.member_may_see, with the roles
from access.roles_for), not for whoever fetches the address. A page the owner may not
open carries only its preview (rendered from the text before the marker alone, so the
rest cannot leak) and a link to subscribe.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from xml.etree import ElementTree as ET

from markupsafe import escape

from models import User

from ..access import roles_for
from ..clock import now
from ..content import site
from ..content.pages import Page
from ..mail import site_url
from ..rulebook import gate

ATOM = "http://www.w3.org/2005/Atom"
#: Entries per feed, newest first.
MAX_ENTRIES = 50


def _updated(page: Page) -> datetime:
    """The page's date (midnight UTC), else its file's modification time."""
    if page.date is not None:
        return datetime.combine(page.date, time(), UTC)
    return datetime.fromtimestamp(page.mtime_ns / 1e9, UTC)


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    child = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    child.text = text
    return child


def atom(user: User, host: str | None, feed_url: str) -> bytes:
    """The feed document for `user`, fetched at `feed_url` on `host`."""
    pages = [p for p in site.snapshot().pages.values() if site.find(p.path) is p]
    pages.sort(key=lambda p: (p.date is not None, _updated(p), p.path), reverse=True)
    pages = pages[:MAX_ENTRIES]
    held, at, base = roles_for(user.id), now(), site_url()
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "title", "Your private feed")
    _text(feed, "id", feed_url.rsplit("/", 1)[0] + f"/member-{user.id}")
    _text(feed, "updated", max((_updated(p) for p in pages), default=at).isoformat())
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "alternate", "href": base + "/"})
    for page in pages:
        link = base + page.path
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "title", page.title)
        _text(entry, "id", link)
        ET.SubElement(entry, f"{{{ATOM}}}link", {"rel": "alternate", "href": link})
        _text(entry, "updated", _updated(page).isoformat())
        if page.summary:
            _text(entry, "summary", page.summary)
        if gate.member_may_see(page.path, user, held, at, host):
            html = page.body_html
        else:
            html = page.preview_html + (
                f'<p><a href="{escape(link)}">Subscribe to read the rest</a></p>'
            )
        _text(entry, "content", html, type="html")  # ElementTree escapes the markup
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
