"""A content folder served through the whole app, and a browser per kind of visitor.

`site_root` writes the folder under the test's tmp_path and installs it in `app` (the
Library is built at create_app time, so it is installed again with the new CONTENT_DIR;
`app`'s own parametrization still sets CONTENT_CHECK_SECONDS and RULES_CHECK_SECONDS).
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.content import site
from gateway.rulebook import edit
from gateway.subscriptions import admin_actions

SECRET = "The secret ingredient is a second pot of coffee."
PRO_SECRET = "Pro members meet on the third Thursday."
GUIDE_SECRET = "Invoice quarterly, never monthly."
#: ~300 KB that no HTML page could contain by chance.
PDF = b"%PDF-1.4\n" + random.Random(20260115).randbytes(300 * 1024)
KINDS = ("anonymous", "member", "subscriber", "lapsed", "admin")
#: Kinds who may open role pages (premium, pro).
WITH_ROLE = ("subscriber", "admin")

PAGES = {
    "public-notes.md": "---\ntitle: Public notes\naccess: public\n---\nOpen to all readers.\n",
    "premium-guide.md": (
        "---\ntitle: Premium guide\naccess: premium\nsummary: The paid guide.\n---\n"
        f"The guide's free opening.\n\n<!-- more -->\n\n{SECRET}\n"
    ),
    "members-only.md": (
        "---\ntitle: Members only\naccess: members\n---\n"
        "Members' teaser.\n\n<!-- more -->\n\nThe members' lounge rules.\n"
    ),
    "unruled.md": "---\ntitle: Unruled page\n---\nNo access line here.\n",
    "pro/index.md": (
        "---\ntitle: Pro corner\naccess: pro\n---\n"
        f"The pro corner's doorway.\n\n<!-- more -->\n\n{PRO_SECRET}\n"
    ),
    "pro/guide.md": (
        "---\ntitle: Pro billing guide\nsummary: Billing for pros.\n---\n"
        f"How pros bill.\n\n<!-- more -->\n\n{GUIDE_SECRET}\n"
    ),
    "account.md": "---\ntitle: Content account\naccess: public\n---\nCONTENT ACCOUNT PAGE\n",
    "auth/login.md": "---\ntitle: Content login\naccess: public\n---\nCONTENT LOGIN PAGE\n",
}


def write_site(root: Path) -> Path:
    for name, text in PAGES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "pro" / "files").mkdir(parents=True, exist_ok=True)
    (root / "pro" / "files" / "handbook.pdf").write_bytes(PDF)
    return root


@pytest.fixture
def site_root(app, tmp_path):
    """The folder above, installed as the app's content (config from `app`'s params)."""
    root = write_site(tmp_path / "site")
    app.config["CONTENT_DIR"] = str(root)
    site.install(app)
    return root


@pytest.fixture
def plans(make_plan):
    return {
        "premium": make_plan("premium-monthly", role="premium", price="9.00"),
        "pro": make_plan("pro-monthly", role="pro", price="19.00"),
        "all": make_plan("all-access", roles=("premium", "pro"), price="29.00"),
    }


@pytest.fixture
def pro_rule(site_root, plans, db, clock):
    """The stored rule `/pro/** -> pro` (pro/guide.md and the handbook have no access:)."""
    row = edit.add(edit.Entry(edit.check("/pro/**", "pro")), at=clock.now(), actor=None)
    db.session.commit()
    return row


@pytest.fixture
def browsers(pro_rule, plans, db, clock, make_user, admin, login_as, new_client):
    """A browser per kind in KINDS: `lapsed` held all-access until five days ago."""
    subscriber = make_user("subscriber@example.com")
    lapsed = make_user("lapsed@example.com")
    for user, days in ((subscriber, 365), (lapsed, 5)):
        admin_actions.grant(
            admin, user, plans["all"], clock.now() + timedelta(days=days), "test", clock.now()
        )
    db.session.commit()
    clock.advance(days=10)
    return {
        "anonymous": new_client(),
        "member": login_as(make_user("member@example.com"), new_client()),
        "subscriber": login_as(subscriber, new_client()),
        "lapsed": login_as(lapsed, new_client()),
        "admin": login_as(admin, new_client()),
    }


def no_bytes_of(data: bytes, body: bytes) -> bool:
    """True if no 32-byte stretch of `data` (sampled every 1 KiB) is in `body`."""
    return all(data[i : i + 32] not in body for i in range(0, len(data) - 32, 1024))
