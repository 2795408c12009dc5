"""The gate: roles cached in the session with their access_until, checked against the clock.

A request costs no query beyond Flask-Login's user load: the cache is trusted while its
version equals the user row's `access_version`, which every access change bumps.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps

from flask import abort, g, session
from flask_login import current_user

from .billing.rules.roles import has_role, lapsed_at
from .clock import now
from .extensions import login_manager
from .subscriptions.queries import roles_for

SESSION_KEY = "_roles"


def remember_roles(user) -> dict[str, datetime]:
    """Compute the member's roles from their subscriptions and cache them in the session."""
    roles = roles_for(user.id)
    session[SESSION_KEY] = {
        "v": user.access_version,
        "r": {k: v.isoformat() for k, v in roles.items()},
    }
    g.roles = roles
    return roles


def current_roles() -> dict[str, datetime]:
    """Role -> access_until for the logged-in member ({} when anonymous); worked out once
    per request (the gate, the nav and the page all ask)."""
    user = current_user._get_current_object()
    if not user.is_authenticated:
        return {}
    roles: dict[str, datetime] | None = g.get("roles")
    if roles is not None:
        return roles
    cached = session.get(SESSION_KEY)
    if not cached or cached.get("v") != user.access_version:
        return remember_roles(user)
    roles = {k: datetime.fromisoformat(v) for k, v in cached["r"].items()}
    g.roles = roles
    return roles


def can(role: str) -> bool:
    """Template helper: may the current member enter areas needing `role`?"""
    return has_role(current_roles(), role, now())


def role_required(*roles: str) -> Callable:
    """Anonymous -> login page; holding none of `roles` -> 403 saying why."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user._get_current_object().is_authenticated:
                return login_manager.unauthorized()
            held, at = current_roles(), now()
            if not any(has_role(held, r, at) for r in roles):
                ended = max((d for r in roles if (d := lapsed_at(held, r, at))), default=None)
                abort(403, description=_why(roles, ended))
            return view(*args, **kwargs)

        return wrapped

    return decorator


def admin_required(view: Callable) -> Callable:
    """Anonymous -> login page; non-admin -> 403."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_admin:
            abort(403, description="This page is for administrators.")
        return view(*args, **kwargs)

    return wrapped


def _why(roles: tuple[str, ...], ended: datetime | None) -> str:
    names = " or ".join(roles)
    if ended is not None:
        return f"Your {names} access ended on {ended:%d %b %Y at %H:%M} UTC."
    return f"This area needs a {names} subscription, and you don't have one."
