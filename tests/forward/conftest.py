"""What the forward-auth tests share: the owner's site as rules."""

from __future__ import annotations

import pytest

from gateway.roles.service import ensure_roles
from gateway.rulebook import edit

#: The owner's site behind the proxy.
SITE = "docs.example.com"


@pytest.fixture
def rules(db, clock):
    """/guides/** for premium and /free/** public on docs.example.com; /pro/** pro anywhere."""
    ensure_roles(["premium", "pro"], clock.now())
    for pattern, who, host in (
        ("/guides/**", "premium", SITE),
        ("/free/**", "public", SITE),
        ("/pro/**", "pro", None),
    ):
        edit.add(edit.Entry(edit.check(pattern, who, host)), at=clock.now(), actor=None)
    db.session.commit()
