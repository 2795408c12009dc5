"""Every state a member can see, in a real browser (Debian's Chromium, the site's real
CSP): the badge, the past-due banner and the dates on "My subscriptions" (a paused one's
"Paused since … · access until …" too), at 1280 px and
on a 390 px phone with nothing wider than the viewport; then the admin subscriptions
table and a webhook message (a long signature header) at both widths. Screenshots go to
$GATEWAY_TEST_SCREENSHOTS if set, else the test's tmp_path."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.billing import Fact
from gateway.billing import FactKind as K
from gateway.billing.rules.statuses import Channel, CheckoutFlow
from gateway.checkout.journal import open_checkout
from gateway.clock import utc_text
from gateway.pipeline import intake
from gateway.subscriptions import admin_actions, service
from models import Payment
from tests.servers import serve

WIDTHS = (1280, 390)
#: The site's CSP forbids eval, so Playwright's wait_for_function cannot run; `evaluate`
#: goes through the DevTools protocol, which the page's CSP does not govern.
OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"


def pay(txn: str, at, amount: str = "9.00") -> Fact:
    return Fact(K.PAYMENT_COMPLETED, at, key=txn, txn_id=txn, amount=Decimal(amount))


def stories(t):
    """state -> (facts, badge, banner shown, words of the Why column)."""
    month = timedelta(days=31)
    return {
        "trial": (
            [Fact(K.TRIAL, t - timedelta(days=1), key="t", until=t + timedelta(days=6))],
            "trial",
            False,
            "Free trial until 21 Jan 2026",
        ),
        "active": ([pay("ACT", t - timedelta(days=2))], "active", False, "Renews on"),
        "past-due": (
            [pay("LATE", t - month), Fact(K.PAYMENT_FAILED, t - timedelta(hours=2), key="f")],
            "past due",
            True,
            "A renewal payment failed",
        ),
        "cancelled": (
            [pay("CAN", t - timedelta(days=3)), Fact(K.CANCELLED, t, key="c")],
            "cancelled",
            False,
            "Cancelled on 15 Jan 2026; access until",
        ),
        "partially-refunded": (
            [
                pay("PART", t - timedelta(days=3)),
                Fact(K.REFUNDED, t, key="PARTR:Refunded", txn_id="PART", amount=Decimal("-4.00")),
            ],
            "active",
            False,
            "Renews on",
        ),
        "refunded": (
            [
                pay("REF", t - timedelta(days=3)),
                Fact(K.REFUNDED, t, key="REFR:Refunded", txn_id="REF", amount=Decimal("-9.00")),
            ],
            "refunded",
            False,
            "Refunded 9.00 USD on 15 Jan 2026",
        ),
        "charged-back": (
            [pay("CB", t - timedelta(days=3)), Fact(K.REVERSED, t, key="cb", txn_id="CB")],
            "charged back",
            False,
            "Charged back 9.00 USD on 15 Jan 2026",
        ),
        "expired": (
            [pay("OLD", t - 3 * month), Fact(K.ENDED, t - month, key="e")],
            "expired",
            False,
            "Ended on",
        ),
        "revoked": (
            [pay("REV", t - timedelta(days=3))],
            "revoked",
            False,
            "Access ended by the site on 15 Jan 2026.",  # the internal reason stays internal
        ),
        "paused": (  # a REST subscription the member paused (MEMBER_PAUSE on)
            [pay("PAU", t - timedelta(days=3)), Fact(K.SUSPENDED, t - timedelta(days=1), key="p")],
            "suspended",
            False,
            "Suspended at PayPal",
        ),
    }


@pytest.fixture
def shots(tmp_path) -> Path:
    where = Path(os.environ.get("GATEWAY_TEST_SCREENSHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def _overflow(page) -> int:
    return int(page.evaluate(OVERFLOW))


def _logged_in(browser, url: str, user):
    """A new browser context (its own cookies) logged in as `user`. The test-only log-in
    answers 204, which a navigation takes as aborted, so the context's own request client
    (sharing its cookies) calls it; the real form is driven in test_portal_in_browser."""
    context = browser.new_context()
    assert context.request.get(f"{url}/_test/login/{user.id}").status == 204
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def _look(page, url: str, name: str, shots: Path) -> None:
    """Open `url` at each width: nothing wider than the viewport; keep a screenshot."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(url)
        assert _overflow(page) <= 0, (name, width, _overflow(page))
        page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)


def test_every_member_state_in_a_browser(
    app, db, browser, clock, admin, make_user, make_plan, make_subscription, shots
):
    """Badge, banner and dates of each state, at 1280 and 390 px, with no overflow."""
    app.config.update(SERVER_NAME=None, MEMBER_PAUSE=True)
    t = clock.now()
    plan = make_plan("premium-monthly", role="premium")
    members = {}
    for state, (facts, badge, banner, why) in stories(t).items():
        member = make_user(f"{state}@example.com")
        sub = make_subscription(member, plan, facts, paypal_id=f"I-{state.upper()}")
        for f in facts:
            if f.kind is K.PAYMENT_COMPLETED:
                db.session.add(
                    Payment(
                        subscription_id=sub.id,
                        txn_id=f.txn_id,
                        status="Completed",
                        amount=f.amount,
                        currency="USD",
                        paid_at=f.at,
                        created_at=t,
                    )
                )
        if state == "revoked":
            admin_actions.revoke(admin, sub, "abuse", t)
        if state == "paused":  # paused through the Subscriptions API: a REST checkout's
            checkout = open_checkout(member, plan, t - timedelta(days=3))
            checkout.channel, checkout.subscription_id = CheckoutFlow.REST, sub.id
        service.recompute(sub, t)  # the payments' own status (partially refunded, ...)
        db.session.commit()
        members[state] = (member, sub, badge, banner, why)
    signature = "S" * 3000  # PayPal's base64 signature: one token, no space to break at
    note = intake.store(
        Channel.WEBHOOK,
        json.dumps({"id": "WH-1", "event_type": "PAYMENT.SALE.COMPLETED"}).encode(),
        {
            "Paypal-Transmission-Sig": signature,
            "Paypal-Cert-Url": "https://api.paypal.com/" + "c" * 400,
        },
        "127.0.0.1",
        t,
    )
    with serve(app) as url:
        for state, (member, sub, badge, banner, why) in members.items():
            page = _logged_in(browser, url, member)
            _look(page, f"{url}/account", f"account-{state}", shots)
            row = page.locator("table.subscriptions tr", has=page.locator(".badge"))
            assert row.count() == 1, state
            assert row.locator(".badge").inner_text() == badge, state
            assert why in row.locator("td.reason").inner_text(), state
            until = row.locator('td[data-label="Access until"]').inner_text()
            assert until == (utc_text(sub.access_until) if sub.access_until else "—"), state
            shown = page.locator(".banner.past-due")
            assert shown.count() == (1 if banner else 0), state
            if banner:
                assert f"access ends on {sub.grace_until:%d %b %Y %H:%M} UTC" in shown.inner_text()
                assert (
                    shown.locator("a", has_text="Fix your payment method").get_attribute("href")
                    == "http://127.0.0.1:5001/sim/"
                )
                page.goto(f"{url}/plans")  # on every page, not only the account
                assert page.locator(".banner.past-due").count() == 1
            if state == "paused":
                paused = row.locator(".paused")
                since = utc_text(t - timedelta(days=1))
                assert paused.inner_text().startswith(
                    f"Paused since {since} · access until {utc_text(sub.access_until)} · "
                ), paused.inner_text()
                assert row.locator("a.resume", has_text="Resume").is_visible()
            if state == "partially-refunded":
                assert page.locator("td", has_text="Partially Refunded").count() == 1
            page.context.close()
        page = _logged_in(browser, url, admin)
        _look(page, f"{url}/admin/subscriptions?view=all", "admin-subscriptions", shots)
        assert page.locator("table .badge").count() == len(members)
        _look(page, f"{url}/admin/messages/{note}", "webhook-message", shots)
        assert page.locator("table.headers td", has_text="SSSS").is_visible()
        page.context.close()
