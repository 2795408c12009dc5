"""The private feed (`/feed/<secret>`) and the member's page of tokens (`/account/tokens`).

A new secret is shown once, in the answer to the POST that made it: never flashed (the
session is a cookie the browser keeps) and never listed again.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from models import db
from models.token import API, FEED

from ..mail import site_url
from . import service
from .feed import atom

bp = Blueprint("tokens", __name__)


@bp.route("/feed/<secret>")
def feed(secret: str) -> Response:
    user = service.member_for(secret, FEED)
    if user is None:
        abort(404)
    url = site_url() + url_for("tokens.feed", secret=secret)
    response = Response(atom(user, request.host, url), mimetype="application/atom+xml")
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _page(status: int = 200, **shown: str) -> tuple[str, int]:
    """The tokens page; `shown`: a secret just made (feed_url, or api_secret)."""
    tokens = service.live(current_user.id)
    return render_template(
        "tokens/tokens.html",
        feed=next((t for t in tokens if t.kind == FEED), None),
        api_tokens=[t for t in tokens if t.kind == API],
        label_max=service.LABEL_MAX,
        **shown,
    ), status


@bp.route("/account/tokens")
@login_required
def tokens() -> ResponseReturnValue:
    return _page()


@bp.route("/account/tokens/feed", methods=["POST"])
@login_required
def rotate_feed() -> ResponseReturnValue:
    """Make the member's feed address, or a new one (the old one stops at once)."""
    _, secret = service.rotate_feed(current_user)
    db.session.commit()
    return _page(feed_url=site_url() + url_for("tokens.feed", secret=secret))


@bp.route("/account/tokens/api", methods=["POST"])
@login_required
def create_api() -> ResponseReturnValue:
    try:
        _, secret = service.create(current_user, API, request.form.get("label", ""))
    except ValueError:
        return _page(400, error=f"Give the token a name of 1 to {service.LABEL_MAX} characters.")
    db.session.commit()
    return _page(api_secret=secret)


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke(token_id: int) -> ResponseReturnValue:
    token = service.owned(current_user.id, token_id)
    if token is None:
        abort(404)
    service.revoke(token)
    db.session.commit()
    return redirect(url_for("tokens.tokens"), 303)
