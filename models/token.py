"""A member's private feed address and personal access tokens: only a digest is kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model
from .types import UTCDateTime

FEED, API = "feed", "api"


class MemberToken(Model):
    """A secret handed to a member once. `digest` is the SHA-256 of the secret (hex): a
    leaked table opens nothing. `prefix` (the secret's first characters) tells the member
    which one a row is."""

    __tablename__ = "member_tokens"
    __table_args__ = (CheckConstraint("kind IN ('feed', 'api')", name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    label: Mapped[str] = mapped_column(String(80))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<MemberToken {self.kind} {self.prefix}…>"
