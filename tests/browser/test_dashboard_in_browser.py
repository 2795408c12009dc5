"""A real browser (Debian's Chromium, headless) on the admin dashboard: every chart is a
visible inline SVG, the page breaks no rule of the site's CSP, and a screenshot is kept."""

from __future__ import annotations

import os

from tests.factories import PASSWORD
from tests.servers import serve
from tests.web.test_dashboard import seed


def _inline_style_page():
    """Test-only: a page the CSP must refuse a style on (proves the console is watched)."""
    return '<!doctype html><p style="color: red">styled</p>'


def test_the_dashboard_in_a_browser(
    app, db, browser, clock, admin, make_user, make_plan, make_subscription, tmp_path
):
    """Log in as an admin; see six charts drawn, no CSP complaint; keep a screenshot."""
    seed(db, clock, make_user, make_plan, make_subscription)
    app.config.update(WTF_CSRF_ENABLED=True, SERVER_NAME=None)
    app.add_url_rule("/_test/inline-style", view_func=_inline_style_page)
    with serve(app) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(10_000)
        console: list[str] = []
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))

        page.goto(f"{url}/_test/inline-style")  # the control: a violation is seen
        assert any("Content Security Policy" in m for m in console), console
        console.clear()

        page.goto(f"{url}/auth/login")
        page.fill("#email", admin.email)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{url}/admin/")
        assert page.inner_text("h1") == "Dashboard"
        charts = page.locator("svg.chart")
        assert charts.count() == 6  # active, movements, revenue (USD, EUR), renewals, flags
        for i in range(charts.count()):
            chart = charts.nth(i)
            chart.scroll_into_view_if_needed()
            assert chart.is_visible()
            box = chart.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 100
        assert page.locator("svg.chart rect.bar").count() == 78 + 36 + 52 + 4
        assert page.locator("#chart-active circle.point").count() == 52
        # The tables beside the charts hold the same numbers.
        assert page.locator("#revenue td", has_text="19.00").count() == 1
        assert page.locator("#revenue figcaption").all_inner_texts() == [
            "Net revenue per month, EUR",
            "Net revenue per month, USD",
        ]
        shot = os.environ.get("GATEWAY_TEST_SCREENSHOT", str(tmp_path / "dashboard.png"))
        page.screenshot(path=shot, full_page=True)
        assert os.path.getsize(shot) > 10_000
        # (A missing /favicon.ico is logged too; only CSP refusals and script errors count.)
        complaints = ("Content Security Policy", "Refused to", "pageerror")
        assert [m for m in console if any(c in m for c in complaints)] == []
