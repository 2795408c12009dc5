"""May this visitor see this path? The rules' answer for the current request.

Paths are matched in their one canonical form (access_rules.paths), worked out here from
WSGI's PATH_INFO exactly once. Admins see everything (they check what they sell); anyone
else gets exactly what the first matching rule, or the default, says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import request
from flask_login import current_user

from models import User

from ..access import current_roles
from ..access_rules.paths import canonical_path
from ..access_rules.table import Who
from ..billing.rules.roles import has_role, lapsed_at
from ..clock import now
from . import store


@dataclass(frozen=True)
class Verdict:
    path: str
    who: Who
    #: Where the answer comes from: "page guides/x.md", "rule 3" or "the default".
    source: str
    allowed: bool
    #: When the visitor's own access to one of `who.roles` ended (a lapsed member).
    ended: datetime | None = None


def request_path() -> str:
    """The request's path, canonical (BadPath for one that has no single meaning)."""
    return canonical_path(request.environ.get("PATH_INFO", "") or "/")


def verdict(path: str, host: str | None = None) -> Verdict:
    """The current visitor's verdict on a canonical `path`."""
    book = store.current()
    decision = book.decide(path, host)
    who = decision.who
    allowed, ended = admits(who)
    return Verdict(path, who, book.source(decision), allowed, ended)


def admits(who: Who) -> tuple[bool, datetime | None]:
    """(allowed, when the visitor's access to one of who's roles ended, if it did)."""
    if who.public:
        return True, None
    user = current_user._get_current_object()
    if not user.is_authenticated:
        return False, None
    if user.is_admin:
        return True, None
    held, at = current_roles(), now()
    if who.admits(True, [r for r in who.roles if has_role(held, r, at)]):
        return True, None
    ended = max((d for r in who.roles if (d := lapsed_at(held, r, at))), default=None)
    return False, ended


def may_see(who: Who) -> bool:
    return admits(who)[0]


def member_may_see(
    path: str, user: User, held: dict[str, datetime], at: datetime, host: str | None = None
) -> bool:
    """Would the rules let `user` (not the request's visitor: a feed's owner) open `path`,
    holding the roles `held` (access.roles_for) at `at`? Admins see everything."""
    who = store.current().decide(path, host).who
    if who.public or user.is_admin:
        return True
    return who.admits(True, [r for r in who.roles if has_role(held, r, at)])
