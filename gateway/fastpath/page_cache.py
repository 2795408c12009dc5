"""What every page renders, computed once per process where it cannot change.

* `url_for` in templates: a URL for an endpoint without arguments (or the static files)
  depends only on the URL map and on where the request came in (script root, host), so it
  is built once per process and kept. URL defaults, blueprint-relative endpoints and
  anything with arguments go to Flask's own `url_for` every time.
* `nav_areas()`: the gated areas the member may enter (their roles: gateway/access.py), worked out
  once per request (the header and the home page both ask).
* `site_nav()`: the header (templates/_nav.html) depends only on who is looking (anonymous,
  or a member with these areas, admin or not) and on where the request came in, apart from
  the log-out form's CSRF token: rendered once per kind of visitor, the token put in per
  request (the same `csrf_token()` the template called before).
* `render_shared()`: a whole page whose text depends only on its arguments and on the kind
  of visitor (the nav's key), such as the gated areas' pages: rendered once per kind of
  visitor and arguments, the CSRF token put in per request. A request with flashed
  messages waiting is rendered in full (they are part of the page, and reading them takes
  them out of the session).
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, current_app, g, render_template, session
from flask.globals import _cv_request
from flask_login import current_user
from markupsafe import Markup, escape

from ..access import current_roles
from ..billing.rules.roles import has_role
from ..clock import now
from ..member.areas import AREAS, Area
from .csrf_tokens import TOKEN

#: URLs kept per process; past this the cache starts over (the Host header varies it).
MAX_URLS = 1024


def allowed_areas() -> tuple[Area, ...]:
    """The gated areas the current member may enter now (() when anonymous), once per
    request: the header and the home page both list them."""
    found: tuple[Area, ...] | None = g.get("allowed_areas")
    if found is None:
        held = current_roles()
        at = now()
        found = tuple(a for a in AREAS if has_role(held, a.role, at)) if held else ()
        g.allowed_areas = found
    return found


class UrlCache:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self._urls: dict[tuple[Any, ...], str] = {}
        self._lock = threading.Lock()

    def url_for(self, endpoint: str, /, **values: Any) -> str:
        app = self.app
        req_ctx = _cv_request.get(None)
        if (
            req_ctx is None
            or req_ctx.url_adapter is None
            or endpoint[:1] == "."
            or app.url_default_functions
            or not (not values or (endpoint == "static" and values.keys() == {"filename"}))
        ):
            return app.url_for(endpoint, **values)
        adapter = req_ctx.url_adapter
        key = (
            endpoint,
            values.get("filename"),
            adapter.script_name,
            adapter.server_name,
            adapter.subdomain,
            adapter.url_scheme,
        )
        url = self._urls.get(key)
        if url is None:
            url = app.url_for(endpoint, **values)
            with self._lock:
                if len(self._urls) >= MAX_URLS:
                    self._urls.clear()
                self._urls[key] = url
        return url


def _visitor() -> tuple[tuple[Any, ...], tuple[Area, ...], bool, bool, bool]:
    """(key, areas, authenticated, admin, keepable) of this request: everything the nav
    depends on but the CSRF token. Not keepable outside a request (no URL adapter)."""
    req_ctx = _cv_request.get(None)
    adapter = req_ctx.url_adapter if req_ctx is not None else None
    user = current_user._get_current_object()
    authenticated = bool(user.is_authenticated)
    areas = allowed_areas() if authenticated else ()
    is_admin = authenticated and bool(user.is_admin)
    key = (
        tuple(a.endpoint for a in areas),
        authenticated,
        is_admin,
        getattr(adapter, "script_name", None),
        getattr(adapter, "server_name", None),
        getattr(adapter, "subdomain", None),
        getattr(adapter, "url_scheme", None),
    )
    return key, areas, authenticated, is_admin, adapter is not None


class NavCache:
    def __init__(self, app: Flask, token: Any) -> None:
        self.app, self.token = app, token
        self._navs: dict[tuple[Any, ...], tuple[str, str | None]] = {}
        self._lock = threading.Lock()

    def site_nav(self) -> Markup:
        key, areas, authenticated, is_admin, keepable = _visitor()
        parts = self._navs.get(key)
        if parts is None:
            html = self.app.jinja_env.get_template("_nav.html").render(
                areas=areas, authenticated=authenticated, is_admin=is_admin, csrf_token=TOKEN
            )
            head, found, tail = html.partition(TOKEN)
            parts = (head, tail if found else None)
            if keepable:
                with self._lock:
                    if len(self._navs) >= MAX_URLS:
                        self._navs.clear()
                    self._navs[key] = parts
        before, after = parts
        if after is None:
            return Markup(before)
        return Markup(before + str(escape(self.token())) + after)


class SharedPages:
    def __init__(self, token: Any) -> None:
        self.token = token
        self._pages: dict[tuple[Any, ...], list[str]] = {}
        self._lock = threading.Lock()

    def render(self, template: str, **context: str) -> str:
        """`render_template(template, **context)` for a page whose text depends only on
        `context` (plain strings) and on the kind of visitor."""
        if "_flashes" in session:
            return render_template(template, **context)
        visitor, _, _, _, keepable = _visitor()
        key = (template, tuple(sorted(context.items())), visitor)
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


def render_shared(template: str, **context: str) -> str:
    """The app's `SharedPages.render` (see the module's docstring)."""
    pages: SharedPages = current_app.extensions["shared_pages"]
    return pages.render(template, **context)


def init_app(app: Flask) -> None:
    """Called by the factory after csrf_tokens.init_app has set the templates' `csrf_token`."""
    app.jinja_env.globals["url_for"] = UrlCache(app).url_for
    app.jinja_env.globals["nav_areas"] = allowed_areas
    token = app.jinja_env.globals["csrf_token"]
    app.jinja_env.globals["site_nav"] = NavCache(app, token).site_nav
    app.extensions["shared_pages"] = SharedPages(token)
