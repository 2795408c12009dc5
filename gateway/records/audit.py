"""The audit writer: every admin change to access is recorded with who, when and why; and
the form field every such change asks its reason in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from models import AuditEntry, User, db

#: The value of the `confirm` field a confirmation page's form sends (an admin's revoke or
#: refund, a member's cancel): a POST without it (one click on an old page, a hand-made
#: request) changes nothing.
CONFIRMED = "yes"

REASON = [DataRequired(message="A reason is required."), Length(min=3, max=500)]


class ReasonForm(FlaskForm):
    """An admin action's form: the reason goes to the audit log."""

    reason = TextAreaField("Reason", validators=REASON)


def audit(
    actor: User | None,
    action: str,
    subject_type: str,
    subject_id: int,
    *,
    now: datetime,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    db.session.add(
        AuditEntry(
            at=now,
            actor_id=actor.id if actor else None,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            reason=reason,
            details=details,
        )
    )
