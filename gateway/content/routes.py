"""The owner's pages, folder indexes and files, at their own paths, as the rules say.

One route under every path the app's own routes leave free. The path is made canonical
once (rulebook.gate.request_path) and both the lookup and the verdict use that form. A
visitor who may not open a page gets 403 with its public preview (what precedes the
`<!-- more -->` marker; the rest is never rendered into the response) and what would open
it: logging in, or the plans granting one of its roles, with their prices. A locked
file is 403 with no byte of it.
"""

from __future__ import annotations

from typing import NoReturn

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from werkzeug.exceptions import MethodNotAllowed

from ..access_rules.paths import BadPath
from ..fastpath.kept_pages import kept_page
from ..rulebook import gate
from . import site
from .files import send_asset
from .listing import listing
from .pages import Asset, Folder, Page

bp = Blueprint("content", __name__)

#: On everything the rules do not make public: no shared cache may keep it.
PRIVATE = "private, no-cache"
VARY = "Cookie, Authorization"


@bp.route("/<path:subpath>")
@kept_page("content/page.html")
def serve(subpath: str) -> ResponseReturnValue | dict[str, str]:
    try:
        path = gate.request_path()
    except BadPath as e:
        abort(400, description=f"This address cannot be read ({e}).")
    folder = site.snapshot().folders.get(path)
    if folder is not None:  # its index.md, if any, is the listing's intro
        return _folder(folder)
    found = site.find(path)
    if found is None:
        _not_found()
    verdict = gate.verdict(path, request.host)
    if isinstance(found, Asset):
        if not verdict.allowed:
            return _locked(verdict, title=found.path.rsplit("/", 1)[-1], preview="")
        return send_asset(found.source, site.snapshot().root, gated=not verdict.who.public)
    assert isinstance(found, Page)
    if not verdict.allowed:
        return _locked(verdict, title=found.title, preview=found.preview_html)
    if not verdict.who.public:
        # A kept page goes out as a plain 200; gated ones must not sit in a shared cache.
        request.environ["tollgate.private"] = True
    return {
        "title": found.title,
        "body": Markup(found.body_html),
        "date": found.date.isoformat() if found.date else "",
    }


def _not_found() -> NoReturn:
    """404, or 405 where an app route answers the path to other methods (POST-only
    routes such as log-out: this route took the GET)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    methods = set(adapter.allowed_methods(request.path)) - {"GET", "HEAD", "OPTIONS"}
    if methods:
        raise MethodNotAllowed(valid_methods=sorted(methods))
    abort(404)


def _locked(verdict: gate.Verdict, *, title: str, preview: str) -> Response:
    html = render_template(
        "content/locked.html",
        title=title,
        preview=Markup(preview),
        verdict=verdict,
        plans=site.plans_opening(verdict.who),
        login=url_for("auth.login", next=request.path),
    )
    response = make_response(html, 403)
    response.headers["Cache-Control"] = PRIVATE
    response.headers["Vary"] = VARY
    return response


def _folder(folder: Folder) -> Response:
    response = make_response(render_template("content/folder.html", **listing(folder.path)))
    response.headers["Cache-Control"] = PRIVATE
    response.headers["Vary"] = VARY
    return response


@bp.after_app_request
def mark_private(response: Response) -> Response:
    if request.environ.get("tollgate.private"):
        response.headers["Cache-Control"] = PRIVATE
        response.headers["Vary"] = VARY
    return response
