"""Things the system will not decide alone; an admin resolves each with a note."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model
from .types import UTCDateTime

if TYPE_CHECKING:
    from .user import User


class Flag(Model):
    __tablename__ = "flags"
    __table_args__ = (
        # The open queue, newest first (admin flags and reconciliation pages, open counts):
        # partial, since PostgreSQL orders by no column after `resolved_at IS NULL`.
        Index(
            "ix_flags_open",
            "created_at",
            "id",
            postgresql_where=text("resolved_at IS NULL"),
            sqlite_where=text("resolved_at IS NULL"),
        ),
        Index("ix_flags_created_at_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str | None] = mapped_column(Text)
    #: Set for flags that must be raised once per cause (a reconciliation difference):
    #: raising it again finds the existing one.
    key: Mapped[str | None] = mapped_column(String(200), unique=True)

    resolver: Mapped[User | None] = relationship(lazy="joined")
