"""The gate: roles cached in the session with their access_until, checked against the clock.

The session's copy of the roles is trusted while its version equals the member's
`access_version`, which every access change bumps; the member itself comes from
Flask-Login's user loader (from memory on the fast path: gateway/fastpath/).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps

from flask import abort, g, request, session
from flask_login import current_user
from sqlalchemy import func, select

from models import Role, Subscription, db, plan_roles

from .billing.rules.roles import has_role
from .clock import now
from .extensions import login_manager

SESSION_KEY = "_roles"
#: Set in the WSGI environ of a request authenticated by an access token (tokens/bearer.py):
#: it has no session to keep roles in.
TOKEN_REQUEST = "tollgate.token"
#: Set in `g` by a view whose answer carries no cookie to the browser (the forward-auth
#: check): the roles are not written into its session.
SESSION_KEPT = "session_kept"


def roles_for(user_id: int) -> dict[str, datetime]:
    """Each role the member ever held, with its latest access_until (one query)."""
    rows = db.session.execute(
        select(Role.name, func.max(Subscription.access_until))
        .join(plan_roles, plan_roles.c.plan_id == Subscription.plan_id)
        .join(Role, Role.id == plan_roles.c.role_id)
        .where(Subscription.user_id == user_id, Subscription.access_until.is_not(None))
        .group_by(Role.name)
    )
    return {role: until for role, until in rows if until is not None}


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
    if cached and cached.get("v") == user.access_version:
        roles = {k: datetime.fromisoformat(v) for k, v in cached["r"].items()}
    elif request.environ.get(TOKEN_REQUEST) or g.get(SESSION_KEPT):
        # No session to keep them in (a token), or one whose new cookie nobody would get
        # (a forward-auth answer goes to a proxy): the member copy's, else computed.
        held = getattr(type(user), "held_roles", None)
        roles = held(user, roles_for) if held is not None else roles_for(user.id)
    else:
        return remember_roles(user)
    g.roles = roles
    return roles


def can(role: str) -> bool:
    """Template helper: does the current member hold `role` now?"""
    return has_role(current_roles(), role, now())


def can_all(roles: list[str]) -> bool:
    """Template helper: does the current member hold every one of `roles` now?"""
    held, at = current_roles(), now()
    return bool(roles) and all(has_role(held, r, at) for r in roles)


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
