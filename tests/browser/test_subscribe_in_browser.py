"""A real browser (Debian's Chromium, headless, the site's real CSP) walks the whole loop
on a content page: an anonymous visitor sees its preview and the plan that opens it, logs
in through the CSRF-protected form, subscribes, approves at the stand-in, comes back to
the waiting page and reads the whole page once the verified IPN was applied; after a
refund at PayPal, the preview again."""

from __future__ import annotations

import os

from tests.servers import serve


def test_member_subscribes_in_a_browser(
    app, sim_app, browser, make_user, make_plan, clock, scheduler, tmp_path
):
    """Preview -> log in (CSRF on) -> Subscribe -> approve -> waiting page -> the whole
    page -> refunded -> the preview."""
    make_plan("premium-monthly", role="premium", price="9.00")
    make_user("browser@example.com")
    app.config.update(
        WTF_CSRF_ENABLED=True,
        PAYPAL_SIM_URL=sim_app.base_url,
        SERVER_NAME=None,
    )
    app.extensions.pop("ipn_verifier", None)
    sim = sim_app.extensions["paypal_sim"]
    with serve(app) as url:
        app.config["PUBLIC_URL"] = url
        page = browser.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"{url}/premium")
        assert "public preview" in page.inner_text("article")
        assert "Every premium article" not in page.content()
        assert "9.00 USD every month" in page.inner_text("#cta")
        page.click("#cta >> text=Log in")
        assert "/auth/login" in page.url
        page.fill("#email", "browser@example.com")
        page.fill("#password", "correct horse battery")
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/premium")
        assert "This plan opens it" in page.inner_text("#cta")

        page.goto(f"{url}/plans")
        page.click("text=Subscribe with PayPal >> nth=0")
        page.wait_for_url(f"{sim_app.base_url}/cgi-bin/webscr")  # the script sent us on
        page.click("button[value=approve]")
        page.wait_for_url(f"{url}/checkout/return*")
        assert "Waiting for PayPal" in page.inner_text("#message")

        sim.outbox.run_due()  # PayPal delivers; the scheduler's inbox job verifies it
        clock.advance(seconds=1)  # a new window: the jobs may run again
        # A locator, not wait_for_function: the site's CSP forbids eval, even the test's.
        page.locator("#message", has_text="confirmed").wait_for()
        page.screenshot(
            path=os.environ.get("GATEWAY_TEST_SCREENSHOT", str(tmp_path / "return.png"))
        )
        page.goto(f"{url}/premium")
        assert page.inner_text("h1") == "Premium library"
        assert "Every premium article" in page.inner_text("article")
        assert page.locator("nav a", has_text="Premium library").count() == 1

        # PayPal refunds the payment; the refund's IPN closes access.
        payment = next(t for t in sim.world.transactions.values() if t.kind == "payment")
        sim.refund(payment)
        sim.outbox.run_due()
        clock.advance(seconds=1)
        for _ in range(100):  # the scheduler's inbox job applies it (no fixed sleep)
            page.goto(f"{url}/premium")
            if page.locator("#cta").count():
                break
            page.wait_for_timeout(100)
        assert "public preview" in page.inner_text("article")
        assert "Every premium article" not in page.content()
