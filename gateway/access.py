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

from models import Plan, Role, Subscription, db, plan_roles

from .billing.rules.roles import has_role
from .billing.rules.statuses import SubscriptionState
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


def late_for(user_id: int) -> list[tuple[str, datetime]]:
    """(plan name, end of grace) of each subscription of the member whose renewal failed
    (one query; the clock decides later whether the grace still runs)."""
    rows = db.session.execute(
        select(Plan.name, Subscription.grace_until)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(
            Subscription.user_id == user_id,
            Subscription.state == SubscriptionState.ACTIVE,
            Subscription.grace_until.is_not(None),
            Subscription.paid_through.is_not(None),
        )
        .order_by(Subscription.grace_until)
    )
    return [(name, until) for name, until in rows if until is not None]


def remember_roles(user) -> dict[str, datetime]:
    """Compute the member's roles, and their failed renewals for the past-due banner, from
    their subscriptions and cache them in the session (a failure or a payment changes
    `access_until`, so it bumps `access_version` and this runs again)."""
    roles = roles_for(user.id)
    session[SESSION_KEY] = {
        "v": user.access_version,
        "r": {k: v.isoformat() for k, v in roles.items()},
        "late": [[name, until.isoformat()] for name, until in late_for(user.id)],
    }
    g.roles = roles
    return roles


def past_due_notice() -> tuple[tuple[str, datetime], ...]:
    """(plan name, end of grace) of the member's renewals that failed and still run on
    grace, for the banner on every page; from the session, so no query on a gated page.
    Empty without a current session copy (an access token's request, a forward check)."""
    current_roles()  # recomputes the session's copy if the member's access changed
    cached = session.get(SESSION_KEY)
    user = current_user._get_current_object()
    if not cached or not user.is_authenticated or cached.get("v") != user.access_version:
        return ()
    if "late" not in cached:  # a session kept from before the banner: once, then kept
        remember_roles(user)
        cached = session[SESSION_KEY]
    at = now()
    late = ((name, datetime.fromisoformat(until)) for name, until in cached.get("late", ()))
    return tuple((name, until) for name, until in late if at < until)


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
