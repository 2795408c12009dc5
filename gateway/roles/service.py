"""Creating, renaming, retiring and deleting roles; every change is audited, and whoever
held a renamed or retired role has their sessions recompute their roles.

Rules and pages name roles by name. A rename rewrites the stored rules that name the
role (in the same transaction); a page's front matter is the owner's file and is not
rewritten: the rules page lists pages naming a role that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select

from models import AccessRule, Plan, Role, Subscription, User, db, plan_roles

from ..access_rules.table import MEMBERS, PUBLIC, ROLE_NAME, Who
from ..records.audit import audit
from ..rulebook import store
from ..subscriptions.service import bump_access_version


class RoleError(ValueError):
    """A change that cannot be made; the message says why."""


def check_name(name: str) -> str:
    name = name.strip().lower()
    if not ROLE_NAME.match(name) or name in (PUBLIC, MEMBERS):
        raise RoleError(
            f"{name!r}: a role name is 1-40 of a-z, 0-9, - and _, and not {PUBLIC!r} or {MEMBERS!r}"
        )
    return name


def named(name: str) -> Role | None:
    return db.session.scalar(select(Role).where(Role.name == name.strip().lower()))


def all_roles(*, include_retired: bool = True) -> list[Role]:
    query = select(Role).order_by(Role.name)
    if not include_retired:
        query = query.where(Role.retired_at.is_(None))
    return list(db.session.scalars(query))


def ensure_roles(names: Iterable[str], at: datetime) -> list[Role]:
    """The roles with these names, created (titled from the name) where missing: for the
    demo's seed, imports and tests. Not flushed: the caller commits."""
    found: list[Role] = []
    for name in dict.fromkeys(check_name(n) for n in names):
        role = named(name) or next((r for r in db.session.new if _is_role(r, name)), None)
        if role is None:
            role = Role(name=name, title=_title(name), description="", created_at=at)
            db.session.add(role)
        found.append(role)
    return found


def create(name: str, title: str, description: str, *, at: datetime, actor: User | None) -> Role:
    name = check_name(name)
    if named(name) is not None:
        raise RoleError(f"there is already a role named {name!r}")
    role = Role(
        name=name,
        title=title.strip() or _title(name),
        description=description.strip(),
        created_at=at,
    )
    db.session.add(role)
    db.session.flush()
    audit(actor, "role_created", "role", role.id, now=at, details={"name": name})
    return role


def update(
    role: Role,
    *,
    name: str,
    title: str,
    description: str,
    at: datetime,
    actor: User | None,
    reason: str | None = None,
) -> None:
    """Change a role's name, title or description. A new name is written into every
    stored rule naming the old one, and holders' sessions recompute their roles."""
    new = check_name(name)
    old = role.name
    if new != old:
        if named(new) is not None:
            raise RoleError(f"there is already a role named {new!r}")
        role.name = new
        _rename_in_rules(old, new, at)
        bump_access_version(*holders(role.id))
    role.title = title.strip() or _title(new)
    role.description = description.strip()
    audit(
        actor, "role_changed", "role", role.id, now=at, reason=reason,
        details={"name": new, "was": old} if new != old else {"name": new},
    )  # fmt: skip


def retire(role: Role, *, at: datetime, actor: User | None, reason: str | None) -> None:
    """No longer offered to plans; members who hold it keep it until their access ends."""
    if role.retired_at is None:
        role.retired_at = at
        audit(actor, "role_retired", "role", role.id, now=at, reason=reason)


def restore(role: Role, *, at: datetime, actor: User | None, reason: str | None) -> None:
    if role.retired_at is not None:
        role.retired_at = None
        audit(actor, "role_restored", "role", role.id, now=at, reason=reason)


def uses(role: Role) -> list[str]:
    """What keeps the role from being deleted (empty: nothing)."""
    found = []
    plans = db.session.scalars(
        select(Plan.code).join(plan_roles).where(plan_roles.c.role_id == role.id)
    ).all()
    if plans:
        found.append(f"granted by plan(s) {', '.join(sorted(plans))}")
    rules = [r.position for r in db.session.scalars(select(AccessRule)) if _names(r, role.name)]
    if rules:
        found.append(f"named by rule(s) at position {', '.join(map(str, sorted(rules)))}")
    return found


def delete(role: Role, *, at: datetime, actor: User | None, reason: str | None) -> None:
    """Delete a role nothing uses; one in use can only be retired."""
    blocking = uses(role)
    if blocking:
        raise RoleError(f"{role.name!r} is in use ({'; '.join(blocking)}): retire it instead")
    audit(actor, "role_deleted", "role", role.id, now=at, reason=reason,
          details={"name": role.name})  # fmt: skip
    db.session.delete(role)


def holders(role_id: int) -> list[int]:
    """Members with any subscription to a plan granting the role."""
    return list(
        db.session.scalars(
            select(Subscription.user_id)
            .join(plan_roles, plan_roles.c.plan_id == Subscription.plan_id)
            .where(plan_roles.c.role_id == role_id, Subscription.user_id.is_not(None))
            .distinct()
        )
    )


def counts() -> dict[int, int]:
    """Role id -> number of plans granting it."""
    rows = db.session.execute(
        select(plan_roles.c.role_id, func.count()).group_by(plan_roles.c.role_id)
    )
    return {role_id: n for role_id, n in rows}


def _rename_in_rules(old: str, new: str, at: datetime) -> None:
    for rule in db.session.scalars(select(AccessRule)):
        if _names(rule, old):
            who = Who.parse(rule.who)
            rule.who = str(Who(roles=(who.roles - {old}) | {new}))
            rule.updated_at = at
    store.changed()


def _names(rule: AccessRule, role: str) -> bool:
    return role in Who.parse(rule.who).roles


def _is_role(obj: object, name: str) -> bool:
    return isinstance(obj, Role) and obj.name == name


def _title(name: str) -> str:
    return name.replace("-", " ").replace("_", " ").title()
