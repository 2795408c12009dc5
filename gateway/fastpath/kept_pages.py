"""Kept pages: what a page shows that cannot change for a kind of visitor, rendered once
per process and kept.

* `site_nav()`: the header (templates/_nav.html) depends only on who is looking (anonymous,
  or a member holding these roles now, admin or not) and on where the request came in,
  apart from the log-out form's CSRF token: rendered once per kind of visitor, the token
  put in per request (the same `csrf_token()` the template called before).
* `kept_page(template)`: a view whose page depends only on the strings it returns and on
  the kind of visitor (the nav's key), such as content pages: rendered once per kind of
  visitor, strings and past-due banner (base.html; from the session, no query), the CSRF
  token put in per request. A request with flashed messages waiting is rendered in full
  (they are part of the page, and reading them takes them out of the session). Such a
  view reads nothing of the member but what the member copy holds, so it gets the copy
  itself (member_copy.py).

Off switch: `"kept_pages"` in `FASTPATH_OFF` (every page rendered in full).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, current_app, g, render_template, session
from flask.globals import _cv_request
from flask_login import current_user
from markupsafe import Markup, escape

from ..access import current_roles, past_due_notice
from ..billing.rules.roles import active_roles
from ..clock import now
from .csrf_tokens import TOKEN
from .member_copy import COPY_SUFFICES

#: `app.extensions[EDITION]`, if set: a function whose answer changes whenever what the
#: nav lists may change for the same visitor (the content's sections and their rules).
EDITION = "kept_pages.edition"
#: URLs kept per process; past this the cache starts over (the Host header varies it).
MAX_URLS = 1024


def _visitor() -> tuple[tuple[Any, ...], bool, bool, bool]:
    """(key, authenticated, admin, keepable) of this request: everything the nav depends
    on but the CSRF token (the content it lists follows from the roles held now and the
    edition of the rules and content). Not
    keepable outside a request (no URL adapter)."""
    req_ctx = _cv_request.get(None)
    adapter = req_ctx.url_adapter if req_ctx is not None else None
    user = current_user._get_current_object()
    authenticated = bool(user.is_authenticated)
    held, at = current_roles(), now()  # {} when anonymous
    is_admin = authenticated and bool(user.is_admin)
    edition = current_app.extensions.get(EDITION)
    key = (
        edition() if edition is not None else None,
        tuple(active_roles(held, at)),
        authenticated,
        is_admin,
        getattr(adapter, "script_name", None),
        getattr(adapter, "server_name", None),
        getattr(adapter, "subdomain", None),
        getattr(adapter, "url_scheme", None),
    )
    return key, authenticated, is_admin, adapter is not None


class NavCache:
    def __init__(self, app: Flask, token: Any, keep: bool) -> None:
        self.app, self.token, self.keep = app, token, keep
        self._navs: dict[tuple[Any, ...], tuple[str, str | None]] = {}
        self._lock = threading.Lock()

    def site_nav(self) -> Markup:
        key, authenticated, is_admin, keepable = _visitor()
        parts = self._navs.get(key)
        if parts is None:
            html = self.app.jinja_env.get_template("_nav.html").render(
                authenticated=authenticated, is_admin=is_admin, csrf_token=TOKEN
            )
            head, found, tail = html.partition(TOKEN)
            parts = (head, tail if found else None)
            if keepable and self.keep:
                with self._lock:
                    if len(self._navs) >= MAX_URLS:
                        self._navs.clear()
                    self._navs[key] = parts
        before, after = parts
        if after is None:
            return Markup(before)
        return Markup(before + str(escape(self.token())) + after)


class SharedPages:
    def __init__(self, token: Any, keep: bool) -> None:
        self.token, self.keep = token, keep
        self._pages: dict[tuple[Any, ...], list[str]] = {}
        self._lock = threading.Lock()

    def render(self, template: str, **context: str) -> str:
        """`render_template(template, **context)` for a page whose text depends only on
        `context` (plain strings) and on the kind of visitor."""
        if not self.keep or "_flashes" in session:
            return render_template(template, **context)
        visitor, _, _, keepable = _visitor()
        # The past-due banner (templates/base.html) is per member: its plans and dates
        # are part of the key, so a page kept with one member's banner goes to no one else.
        key = (template, tuple(sorted(context.items())), visitor, past_due_notice())
        parts = self._pages.get(key)
        if parts is None:
            g.keeping_page = True  # csrf_token() answers TOKEN meanwhile (csrf_tokens.py)
            try:
                parts = render_template(template, **context).split(TOKEN)
            finally:
                g.keeping_page = False
            if keepable:
                with self._lock:
                    if len(self._pages) >= MAX_URLS:
                        self._pages.clear()
                    self._pages[key] = parts
        if len(parts) == 1:
            return parts[0]
        return str(escape(self.token())).join(parts)


def kept_page(template: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view returning the strings of `template`'s page (a dict), rendered as a kept page;
    anything else it returns (a redirect, an error) goes out as it is."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            found = view(*args, **kwargs)
            if not isinstance(found, dict):
                return found
            pages: SharedPages = current_app.extensions["shared_pages"]
            return pages.render(template, **found)

        setattr(wrapped, COPY_SUFFICES, True)
        return wrapped

    return decorator


def install(app: Flask, keep: bool) -> None:
    """Templates' `site_nav()` and the kept pages (kept only when `keep`); after the CSRF
    token cache, whose `csrf_token` it puts in."""
    token = app.jinja_env.globals["csrf_token"]
    app.jinja_env.globals["site_nav"] = NavCache(app, token, keep).site_nav
    app.extensions["shared_pages"] = SharedPages(token, keep)
