"""Members and admins, the sessions they logged out of, and the failed-login counters
that throttle guessing."""

from __future__ import annotations

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from .base import Model
from .types import UTCDateTime


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class User(UserMixin, Model):
    __tablename__ = "users"
    __table_args__ = (
        # The admin search, an e-mail prefix (email LIKE 'abc%'); e-mails are stored
        # lower-cased (normalise_email), so a lower-cased search is case-insensitive.
        Index("ix_users_email_pattern", "email", postgresql_ops={"email": "varchar_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Bumped whenever this member's access changes; a session holding an older
    #: value recomputes its roles on the next request.
    access_version: Mapped[int] = mapped_column(Integer, default=1)
    #: Part of the session id (`get_id`): a new one ends every existing session.
    session_token: Mapped[str] = mapped_column(String(64), default=lambda: new_session_token())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and the remember-me cookie."""
        return f"{self.id}:{self.session_token}"

    @staticmethod
    def normalise_email(email: str) -> str:
        return email.strip().lower()

    def set_password(self, password: str, method: str = "scrypt") -> None:
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class LoginFailure(Model):
    """Log-in attempts in the current window, per scope (see gateway/auth/throttle.py)."""

    __tablename__ = "login_failures"
    __table_args__ = (UniqueConstraint("scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(300))
    count: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    #: No attempt in this scope before then (the increasing delay past the limit).
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EndedSession(Model):
    """A session logged out on purpose (gateway/auth/sessions.py): every copy of its
    cookie is refused. Only the SHA-256 (hex) of the session's random id is kept; rows
    older than the cookie's maximum age are deleted (the `forget-ended-sessions` job)."""

    __tablename__ = "ended_sessions"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
