"""The gated areas of the site and the role each needs (the demo plans grant these)."""

from __future__ import annotations

from dataclasses import dataclass


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
