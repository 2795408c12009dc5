"""Roles (tiers) a plan grants, and the URL access rules that name them: data, not code.

A plan grants one or more roles (`plan_roles`); a member holds a role while one of their
subscriptions to such a plan has access. A role is renamed in place (its id stays, so
plans keep it); one in use is retired, never deleted: it is no longer offered to new
plans, and members who paid for it keep it until their access ends.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Model
from .types import UTCDateTime


class Role(Model):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Lower case a-z 0-9 - _ (access_rules.table.ROLE_NAME): what rules and front matter name.
    name: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def retired(self) -> bool:
        return self.retired_at is not None

    def __repr__(self) -> str:
        return f"<Role {self.name}>"


plan_roles = Table(
    "plan_roles",
    Base.metadata,
    Column("plan_id", Integer, ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", Integer, ForeignKey("roles.id"), primary_key=True, index=True),
)


class AccessRule(Model):
    """`pattern -> who`, in `position` order, first match wins (gateway/access_rules)."""

    __tablename__ = "access_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, unique=True)
    #: Canonical pattern (access_rules.table.canonical_pattern).
    pattern: Mapped[str] = mapped_column(String(400))
    #: None: every host; else a canonical host name (sites behind the gateway).
    host: Mapped[str | None] = mapped_column(String(253))
    #: `public`, `members` or role names separated by spaces (str(Who)).
    who: Mapped[str] = mapped_column(String(400))
    note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Setting(Model):
    """Small site-wide values an admin edits (the rules' default, their version)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
