"""Admin: the status page (PayPal heard from, backlogs, jobs, flags, outbox, warnings)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask.typing import ResponseReturnValue

from ..access import admin_required
from ..clock import now
from .status import age_text, snapshot, to_look_at

#: Registered by the factory beside the admin blueprint, so it brings its own guard.
bp = Blueprint("admin_status", __name__, url_prefix="/admin/status")


@bp.before_request
@admin_required
def guard() -> None:
    """Anonymous -> log-in page; members -> 403 (as every admin page)."""


@bp.route("")
def index() -> ResponseReturnValue:
    status = snapshot(now(), current_app.config)
    return render_template(
        "admin/status.html", s=status, age=age_text, to_look_at=to_look_at(status)
    )
