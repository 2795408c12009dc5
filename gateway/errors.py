"""One renderer for every error page; never a stack trace in a response.

Unexpected exceptions are left to Flask: it logs them (and re-raises them in tests and
the debugger in debug mode) and then renders our InternalServerError handler.
"""

from __future__ import annotations

from flask import Flask, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from werkzeug.exceptions import HTTPException, InternalServerError

from models import db

TITLES = {
    400: "Bad request",
    401: "Please log in",
    403: "No access",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Too large",
    429: "Too many requests",
    500: "Something went wrong",
}


def render_error(error: HTTPException) -> ResponseReturnValue:
    code = error.code or 500
    description = error.description
    if isinstance(error, CSRFError):
        description = "The form expired or was sent from elsewhere. Reload the page and try again."
    elif code == 500:
        description = "An unexpected error occurred. It has been logged; please try again."
    # The exception's own headers: Allow on a 405, WWW-Authenticate on a 401.
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    if request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/"):
        return {"error": TITLES.get(code, error.name), "description": description}, code, headers
    return (
        render_template(
            "errors/error.html",
            code=code,
            title=TITLES.get(code, error.name),
            description=description,
            renew=code == 403 and _access_lapsed(),
        ),
        code,
        headers,
    )


def _access_lapsed() -> bool:
    """Offer "See plans and renew" only where it makes sense: a member (not on an admin
    page) who had access that has ended; never to admins or to someone who never paid."""
    if (request.blueprint or "").startswith("admin") or not current_user.is_authenticated:
        return False
    if current_user.is_admin:
        return False
    from models import Subscription

    from .clock import now

    return bool(
        db.session.scalar(
            select(Subscription.id)
            .where(Subscription.user_id == current_user.id, Subscription.access_until < now())
            .limit(1)
        )
    )


def internal_error(error: InternalServerError) -> ResponseReturnValue:
    """After Flask has logged the exception: undo the request's half-done work, then render."""
    try:
        db.session.rollback()
    except Exception:  # the database itself may be what failed; the page must still render
        current_app.logger.exception("rollback after an error failed")
    return render_error(error)


#: Endpoints that read raw bodies themselves (PayPal's messages are stored byte for byte):
#: parsing one as a form here would use up the stream before the view reads it.
RAW_BODY_ENDPOINTS = {"paypal.ipn", "paypal.webhook"}


#: Endpoints that take bigger bodies than MAX_CONTENT_LENGTH: the setting that holds each
#: one's limit in MB (the file), and the multipart envelope allowed around it.
BIG_BODY_ENDPOINTS = {"admin.reconciliation.upload": "RECONCILE_UPLOAD_MAX_MB"}
ENVELOPE = 64 * 1024


def big_body_limit(endpoint: str | None) -> int | None:
    """The body limit of an upload endpoint in bytes (file and envelope), else None."""
    setting = BIG_BODY_ENDPOINTS.get(endpoint or "")
    if setting is None:
        return None
    return int(current_app.config[setting]) * 2**20 + ENVELOPE


def raise_body_limit() -> None:
    """Runs before every other hook: CSRF and the NUL check read the body, so an upload
    route's own limit must be in place first, and only for an admin (anyone else keeps
    the app-wide 1 MiB and is turned away by the admin guard after)."""
    limit = big_body_limit(request.endpoint)
    if limit is None or not (current_user.is_authenticated and current_user.is_admin):
        return
    if request.content_length and request.content_length > limit:
        abort(
            413,
            description=f"Files up to {(limit - ENVELOPE) // 2**20} MB here; use "
            "`flask --app app paypal import-activity FILE` for bigger ones.",
        )
    request.max_content_length = limit  # also for uploads sent without a length


def refuse_nul_bytes() -> None:
    """PostgreSQL text cannot hold NUL; refuse it up front (a clear 400, not a 500 later)."""
    environ = request.environ
    if not environ.get("QUERY_STRING") and not environ.get("CONTENT_TYPE"):
        return  # nothing here is parsed as text (a page view): no lookups at all
    if request.endpoint in RAW_BODY_ENDPOINTS:
        return
    values = list(request.args.values())
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values += request.form.values()
    if any("\x00" in v for v in values):
        abort(400, description="The request contained a NUL character, which is not allowed.")


def register_errorhandlers(app: Flask) -> None:
    app.register_error_handler(InternalServerError, internal_error)
    app.register_error_handler(HTTPException, render_error)
    app.before_request(refuse_nul_bytes)
    app.before_request_funcs.setdefault(None, []).insert(0, raise_body_limit)
