"""Probes for load balancers and orchestrators, and the Prometheus scrape.

`/healthz`: the process answers and the database does (`SELECT 1`). `/readyz`: also the
schema is at the migration head and the settings make sense. Neither needs a log-in,
touches the session (no cookie is set) or says more than a short reason: no stack trace,
no setting's value. `/metrics` is off (404) until GATEWAY_METRICS_TOKEN is set, and then
wants `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from flask import Blueprint, Response, abort, current_app, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from models import db

from .. import metrics
from ..clock import now
from ..config import INSECURE_SECRET_KEY
from ..fastpath import lazy_migrate
from ..jobs.registry import jobs
from . import metrics_scrape, status

bp = Blueprint("health", __name__)


@bp.record_once
def _init_metrics(state: BlueprintSetupState) -> None:
    """Each app that serves /metrics gets its own counters (gateway/metrics.py)."""
    metrics.init_app(state.app)


def database_reachable() -> bool:
    """`SELECT 1` on a connection of its own (the request's session stays untouched)."""
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        current_app.logger.warning("health check: database unreachable", exc_info=True)
        return False
    return True


@lru_cache(maxsize=4)
def migration_heads(directory: str) -> frozenset[str]:
    """The revisions this code expects (read from the scripts once per process)."""
    from alembic.script import ScriptDirectory  # ~10 MB: loaded by the first /readyz only

    return frozenset(ScriptDirectory(directory).get_heads())


def schema_problem() -> str | None:
    """None when the database's Alembic revision is this code's head."""
    heads = migration_heads(lazy_migrate.DIRECTORY)
    try:
        with db.engine.connect() as conn:
            current = frozenset(
                conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
            )
    except SQLAlchemyError:
        return "schema not migrated: run `flask --app app db upgrade`"
    if current != heads:
        return (
            f"schema at revision {', '.join(sorted(current)) or 'none'}, this code expects "
            f"{', '.join(sorted(heads))}: run `flask --app app db upgrade`"
        )
    return None


def config_problems(config: Mapping[str, Any], debug_or_testing: bool) -> list[str]:
    """Settings that start the app but keep it from doing its work properly."""
    found = []
    if not debug_or_testing and config.get("SECRET_KEY") in (None, "", INSECURE_SECRET_KEY):
        found.append("GATEWAY_SECRET_KEY is not set")
    try:
        jobs(config)
    except ValueError:
        found.append("GATEWAY_JOB_INTERVALS names a job that does not exist")
    if config.get("PAYPAL_MODE") in ("sandbox", "live") and config.get("PAYPAL_BUSINESS") in (
        "",
        "merchant@example.com",
    ):
        found.append("GATEWAY_PAYPAL_BUSINESS is still the example address")
    if config.get("PAYPAL_MODE") != "sim" and not config.get("PUBLIC_URL"):
        # Jobs write mails with no request to ask for the site's address: links would be relative.
        found.append("GATEWAY_PUBLIC_URL is not set: mails from jobs would have no working links")
    if (
        config.get("PAYPAL_MODE") != "sim"
        and not str(config.get("RECEIPT_SELLER_NAME") or "").strip()
    ):
        found.append("GATEWAY_RECEIPT_SELLER_NAME is not set: receipts would name no seller")
    if config.get("MAIL_USE_TLS") and config.get("MAIL_USE_SSL"):
        found.append("GATEWAY_MAIL_USE_TLS and GATEWAY_MAIL_USE_SSL are both set")
    for key in (
        "STATUS_JOB_LATE_FACTOR",
        "STATUS_QUIET_HOURS",
        "STATUS_BACKLOG_MINUTES",
        "STATUS_JUNK_PER_HOUR",
        "STATUS_INVALID_PER_HOUR",
        "DEFERRED_FLAG_AFTER_HOURS",
        "PAYPAL_WEBHOOK_MAX_SKEW_HOURS",
    ):
        try:
            positive = float(config[key]) > 0
        except (TypeError, ValueError):
            positive = False
        if not positive:
            found.append(f"GATEWAY_{key} must be a positive number")
    for key in ("INBOX_JUNK_KEEP_HOURS", "INBOX_JUNK_FORGET_DAYS"):
        try:
            counted = float(config[key]) >= 0
        except (TypeError, ValueError):
            counted = False
        if not counted:
            found.append(f"GATEWAY_{key} must be a number, 0 or more")
    return found


@bp.route("/healthz")
def healthz() -> ResponseReturnValue:
    if not database_reachable():
        return {"status": "error", "error": "database unreachable"}, 503
    return {"status": "ok"}


@bp.route("/readyz")
def readyz() -> ResponseReturnValue:
    if not database_reachable():
        return {"status": "error", "errors": ["database unreachable"]}, 503
    problems = [p for p in [schema_problem()] if p]
    problems += config_problems(current_app.config, current_app.debug or current_app.testing)
    if problems:
        return {"status": "error", "errors": problems}, 503
    return {"status": "ok"}


@bp.route("/metrics")
def metrics_view() -> ResponseReturnValue:
    token = str(current_app.config.get("METRICS_TOKEN") or "")
    if not token:
        abort(404)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        return Response(
            "A bearer token is required.\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
            mimetype="text/plain",
        )
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        snapshot: status.Status | None = status.snapshot(now(), app.config)
    except SQLAlchemyError:
        db.session.rollback()
        app.logger.warning("metrics: the database could not be read", exc_info=True)
        snapshot = None
    body = metrics_scrape.exposition(app, snapshot)
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})
