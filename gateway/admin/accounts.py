"""Admin: help a member back into their account (a reset link, lifting log-in delays)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import delete, or_

from models import LoginFailure, User, db

from ..auth import reset
from ..clock import now
from ..paging import escape_like
from ..records.audit import audit
from .forms import ReasonForm

bp = Blueprint("accounts", __name__, url_prefix="/members")


def _member(user_id: int) -> tuple[User, str]:
    member = db.get_or_404(User, user_id, description="No such member.")
    form = ReasonForm(prefix="account")
    if not form.validate_on_submit():
        abort(400, description="Say why (3 to 500 characters).")
    return member, str(form.reason.data)


@bp.route("/<int:user_id>/reset-link", methods=["POST"])
def send_reset_link(user_id: int) -> ResponseReturnValue:
    """Mail the member a reset link (the admin never sees or sets the password)."""
    member, reason = _member(user_id)
    reset.send_link(member.email, now())
    audit(current_user, "send_reset_link", "user", member.id, now=now(), reason=reason)
    db.session.commit()
    flash(f"A reset link is on its way to {member.email}.", "success")
    return redirect(url_for("admin.member_detail", user_id=member.id)), 303


@bp.route("/<int:user_id>/unlock", methods=["POST"])
def unlock(user_id: int) -> ResponseReturnValue:
    """Lift the log-in delays on this account, from every address."""
    member, reason = _member(user_id)
    pattern = f"pair:{escape_like(member.email)}|%"
    lifted = db.session.execute(
        delete(LoginFailure).where(
            or_(
                LoginFailure.scope == f"email:{member.email}",
                LoginFailure.scope.like(pattern, escape="\\"),
            )
        )
    ).rowcount  # type: ignore[attr-defined]
    audit(
        current_user,
        "unlock",
        "user",
        member.id,
        now=now(),
        reason=reason,
        details={"counters": lifted},
    )
    db.session.commit()
    flash(f"Log-in delays lifted for {member.email}.", "success")
    return redirect(url_for("admin.member_detail", user_id=member.id)), 303
