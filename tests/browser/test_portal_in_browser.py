"""A real browser on "My subscriptions": the past-due banner after a failed renewal, a
cancelled subscription ending on its paid-through date, and a receipt that opens."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from gateway.billing import Fact
from gateway.billing import FactKind as K
from models import Payment
from tests.factories import PASSWORD
from tests.servers import serve


def test_the_portal_in_a_browser(app, db, browser, clock, make_user, make_plan, make_subscription):
    """Log in through the real form; read the banner, the cancellation; open a receipt."""
    app.config.update(WTF_CSRF_ENABLED=True, SERVER_NAME=None)
    member = make_user("portal@example.com")
    t = clock.now()
    failing = make_subscription(
        member,
        make_plan("premium-monthly", role="premium"),
        [
            Fact(
                K.PAYMENT_COMPLETED,
                t - timedelta(days=31),
                key="p1",
                txn_id="TXNBROWSER01",
                amount=Decimal("9.00"),
            ),
            Fact(K.PAYMENT_FAILED, t - timedelta(hours=2), key="f1"),
        ],
        paypal_id="I-BROWSER1",
    )
    db.session.add(
        Payment(
            subscription_id=failing.id,
            txn_id="TXNBROWSER01",
            status="Completed",
            amount=Decimal("9.00"),
            currency="USD",
            paid_at=t - timedelta(days=31),
            created_at=t,
        )
    )
    make_subscription(
        member,
        make_plan("pro-monthly", role="pro", price="29.00"),
        [
            Fact(K.PAYMENT_COMPLETED, t, key="p2", txn_id="TXNBROWSER02", amount=Decimal("29.00")),
            Fact(K.CANCELLED, t + timedelta(hours=1), key="c2"),
        ],
        paypal_id="I-BROWSER2",
    )
    db.session.commit()
    with serve(app) as url:
        page = browser.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"{url}/auth/login")
        page.fill("#email", "portal@example.com")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{url}/account")
        banner = page.locator(".past-due").inner_text()
        assert "Payment failed: Premium-Monthly is past due" in banner
        assert "access ends on 18 Jan 2026" in banner
        assert "Cancelled on 15 Jan 2026; access until 15 Feb 2026" in page.content()
        page.click("text=Receipt")
        page.wait_for_url(f"{url}/account/receipts/*")
        assert "TXNBROWSER01" in page.inner_text(".receipt")
