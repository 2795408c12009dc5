"""Pure role checks over the session's role cache: role -> access_until."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime


def has_role(roles: Mapping[str, datetime], role: str, now: datetime) -> bool:
    """True while `role`'s access_until lies in the future."""
    until = roles.get(role)
    return until is not None and now < until


def active_roles(roles: Mapping[str, datetime], now: datetime) -> list[str]:
    """The roles held at `now`, sorted (the identity header's and a kept page's key)."""
    return sorted(role for role in roles if has_role(roles, role, now))


def lapsed_at(roles: Mapping[str, datetime], role: str, now: datetime) -> datetime | None:
    """When `role` ran out, if the member ever held it and no longer does."""
    until = roles.get(role)
    return until if until is not None and until <= now else None
