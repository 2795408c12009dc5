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
