"""Every page a person opens fits the screen (#23): each GET page of the route walk
(tests/web/test_route_walk.py) that answers a page, opened in Debian's Chromium with the
site's real CSP by an admin, by a member and by a visitor, at 1280 px and on a 390 px
phone: no 5xx, and nothing wider than the viewport. The world is the walk's, plus a flag,
a stored PayPal message with a long signature header (one token, nowhere to break) and
an outbox mail with a long address. A screenshot of each page at 390 px goes to
$GATEWAY_TEST_SCREENSHOTS if set, else the test's tmp_path."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from gateway.billing.rules.statuses import Channel, ExportStatus, NotificationStatus
from gateway.pipeline import intake
from models import ExportRequest, Flag, Notification, OutboxMail
from tests.browser import test_states_in_browser as states
from tests.servers import serve
from tests.web import test_route_walk as walk

world = walk.world  # the walk's own world: plans, members A and B, a grant, a payment, ...
shots = states.shots  # where screenshots go

#: Answers that are files, not pages a person reads in the browser.
NOT_PAGES = re.compile(
    r"\.(csv|pdf|css|ico)$|/(raw|export|status)$|^/(healthz|readyz|metrics)$|^/(feed|gate)/"
)
#: The whole sweep is bounded (three people, ~60 pages, two widths each).
BOUND = 60.0
WIDTHS = (390, 1280)
#: What sticks out (the innermost few), to say in a failure which element is too wide.
CULPRITS = """[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5
    && ![...e.children].some(c => c.getBoundingClientRect().right > window.innerWidth + 0.5))
  .slice(0, 3)
  .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')
            + ' ' + (e.textContent || '').trim().slice(0, 40))"""


def pages(principal: int) -> list[str]:
    """GET page templates of the walk that answer a page (not a file) to `principal`
    (0 visitor, 1 member A, 3 admin): 200, or a redirect a browser follows; for the
    admin, every admin page too (some answer 404 or 409: a person sees those as well)."""
    chosen = [
        path
        for (method, path), expected in walk.EXPECTED.items()
        if method == "GET" and expected[principal] in (200, 302) and not NOT_PAGES.search(path)
    ]
    if principal == 3:
        chosen += [p for m, p in walk.ADMIN_ONLY if m == "GET" and not NOT_PAGES.search(p)]
    return chosen


@pytest.fixture
def big_world(app, db, clock, world):
    """The walk's world, plus what the admin pages list: a flag, a webhook message with a
    3000-character signature and a long certificate URL, and a queued mail."""
    t = clock.now()
    flag = Flag(kind="amount", message="Paid 8.00 USD, plan says 9.00 " + "x" * 300, created_at=t)
    db.session.add(flag)
    note = intake.store(
        Channel.WEBHOOK,
        json.dumps({"id": "WH-LONG", "event_type": "PAYMENT.SALE.COMPLETED"}).encode(),
        {
            "Paypal-Transmission-Sig": "S" * 3000,
            "Paypal-Cert-Url": "https://api.paypal.com/" + "c" * 400,
        },
        "127.0.0.1",
        t,
    )
    db.session.add(
        OutboxMail(
            key="walk:mail",
            to_addr="a.very.long.address.with.no.spaces." + "z" * 80 + "@example.com",
            subject="Your receipt for premium-monthly " + "y" * 120,
            text_body="Thanks.\n",
            html_body="<p>Thanks.</p>",
            created_at=t,
            next_attempt_at=t + timedelta(minutes=5),
            attempts=1,
            last_error="SMTP 451 " + "e" * 300,
        )
    )
    # A refund waiting for its payment and a disowned message, each flagged: the flags
    # page then shows their decision forms (match, re-verify, apply, dismiss).
    for kind, status in (("deferred", NotificationStatus.DEFERRED), ("invalid", "invalid")):
        waiting = intake.store(
            Channel.IPN,
            b"payment_status=Refunded&parent_txn_id=TXNGONE&txn_id=RF1&mc_gross=-9.00",
            {},
            "127.0.0.1",
            t,
        )
        db.session.execute(
            update(Notification).where(Notification.id == waiting).values(status=status)
        )
        db.session.add(
            Flag(
                kind=kind,
                message="Refunded -9.00 USD " + "w" * 200,
                created_at=t,
                notification_id=waiting,
            )
        )
    db.session.add(  # a ready export: its file's long name and SHA-256 on the exports page
        ExportRequest(
            kind="subscriptions",
            filters={"view": "all", "sort": "access_until", "dir": "asc"},
            requested_by=world["admin"].id,
            requested_at=t,
            status=ExportStatus.READY,
            attempts=1,
            rows_written=1_000_000,
            rows_expected=1_000_000,
            file_name="export-99-1.csv",
            file_bytes=187_654_321,
            sha256="f" * 64,
            download_name="subscriptions-all-20260115-1200-1000000-rows.csv",
            expires_at=t + timedelta(hours=24),
        )
    )
    db.session.commit()
    return {**world, "flag": flag.id, "note": note}


def _fill(w) -> dict[str, object]:
    return {
        "token": w["token"],
        "plan": w["plan"],
        "offer": w["offer"],
        "forged": "not-a-token",
        "payment": w["payment"],
        "txn": "TXNWALK",
        "sub": w["sub"].id,
        "feed": w["feed"],
        "pat": w["pat"],
        "flag": w["flag"],
        "member": w["a"].id,
        "note": w["note"],
        "plan_id": w["plan_id"],
        "payment_id": w["payment"],
        "role_id": w["role_id"],
        "rule_id": w["rule_id"],
        "export": w["export"],
    }


def _sweep(page, url: str, who: str, paths: list[str], shots, started: float) -> list[str]:
    """Open each path; returns the (path, width, overflow) failures, to report all at once."""
    wide = []
    for path in paths:
        assert time.monotonic() - started < BOUND, f"the sweep took over {BOUND} s at {path}"
        page.set_viewport_size({"width": WIDTHS[0], "height": 800})
        answer = page.goto(url + path)
        assert answer is not None, path
        assert answer.status < 500, (who, path, answer.status)
        assert "text/html" in answer.headers.get("content-type", ""), (who, path)
        name = re.sub(r"[^A-Za-z0-9]+", "-", f"{who}{path}").strip("-")
        page.screenshot(path=str(shots / f"fit-{name}-{WIDTHS[0]}.png"), full_page=True)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            over = int(page.evaluate(states.OVERFLOW))
            if over > 0:
                culprits = page.evaluate(CULPRITS)
                wide.append(f"{who} {path} at {width}px: {over}px too wide: {culprits}")
    return wide


def test_every_page_fits_a_phone_and_a_desktop(app, big_world, browser, shots):
    """Visitor, member A and the admin open every page they may: none is wider than 390 or
    1280 px, none answers 5xx."""
    app.config.update(SERVER_NAME=None)
    fill = _fill(big_world)
    started = time.monotonic()
    wide: list[str] = []
    checked = 0
    with serve(app) as url:
        for who, principal, user in (
            ("visitor", 0, None),
            ("member", 1, big_world["a"]),
            ("admin", 3, big_world["admin"]),
        ):
            paths = [p.format(**fill) for p in pages(principal)]
            if user is None:
                context = browser.new_context()
                page = context.new_page()
                page.set_default_timeout(10_000)
            else:
                page = states._logged_in(browser, url, user)
            wide += _sweep(page, url, who, paths, shots, started)
            checked += len(paths)
            page.context.close()
    assert checked >= 50, checked  # the walk's pages are all here, not a filtered few
    assert not wide, "\n".join(wide)
