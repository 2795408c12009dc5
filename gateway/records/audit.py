"""The audit writer: every admin change to access is recorded with who, when and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models import AuditEntry, User, db


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
