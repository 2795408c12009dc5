"""The gated areas of the site and the role each needs (the demo plans grant these)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import g

from ..access import current_roles
from ..billing.rules.roles import has_role
from ..clock import now


@dataclass(frozen=True)
class Area:
    endpoint: str
    title: str
    role: str


AREAS = (
    Area("member.premium", "Premium library", "premium"),
    Area("member.pro", "Pro workshop", "pro"),
)

#: Every role a plan may grant: exactly those some area requires, in the order declared.
ROLES = tuple(dict.fromkeys(a.role for a in AREAS))


def allowed_areas() -> tuple[Area, ...]:
    """The gated areas the current member may enter now (() when anonymous), once per
    request: the header and the home page both list them."""
    found: tuple[Area, ...] | None = g.get("allowed_areas")
    if found is None:
        held = current_roles()
        at = now()
        found = tuple(a for a in AREAS if has_role(held, a.role, at)) if held else ()
        g.allowed_areas = found
    return found
