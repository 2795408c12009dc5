"""Every route, walked as anonymous, member A, member B and an admin: who gets what.
A new route without an entry here fails the walk, so nothing ships unreviewed."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from gateway.billing.rules.statuses import ExportStatus, PaymentStatus, PlanKind
from gateway.checkout.journal import open_checkout
from gateway.rulebook import edit
from gateway.subscriptions import admin_actions
from gateway.tokens import service as tokens
from models import ExportRequest, Payment

# (method, path template) -> expected status for anonymous, member A, member B, admin.
# "login" = sent to the log-in page; A owns the subscription and the checkout.
LOGIN = "login"
EXPECTED = {
    ("GET", "/"): (200, 200, 200, 200),
    ("GET", "/plans"): (200, 200, 200, 200),
    ("GET", "/offer/{offer}"): (200, 200, 200, 200),  # a hidden plan's own link
    ("GET", "/account"): (LOGIN, 200, 200, 200),
    # Receipts: A's own, and an admin's (who sees every payment); B is told nothing.
    ("GET", "/account/receipts/{payment}"): (LOGIN, 200, 404, 200),
    ("GET", "/account/receipts/{payment}.pdf"): (LOGIN, 200, 404, 200),
    ("GET", "/account/receipts/paypal/{txn}"): (LOGIN, 302, 404, 302),  # the mail's links
    ("GET", "/account/receipts/paypal/{txn}.pdf"): (LOGIN, 302, 404, 302),
    # A's subscription is an admin grant, not a REST one: refused for A, not found for others.
    ("GET", "/account/subscriptions/{sub}/cancel"): (LOGIN, 409, 404, 404),
    ("POST", "/account/subscriptions/{sub}/cancel"): (LOGIN, 409, 404, 404),
    # The portal's own changes (gateway/member/manage.py): none applies to a grant, and
    # pausing is off by default.
    ("GET", "/account/subscriptions/{sub}/pause"): (LOGIN, 409, 404, 404),
    ("POST", "/account/subscriptions/{sub}/pause"): (LOGIN, 409, 404, 404),
    ("GET", "/account/subscriptions/{sub}/resume"): (LOGIN, 409, 404, 404),
    ("POST", "/account/subscriptions/{sub}/resume"): (LOGIN, 409, 404, 404),
    ("GET", "/account/subscriptions/{sub}/change"): (LOGIN, 409, 404, 404),
    ("GET", "/account/subscriptions/{sub}/change/{plan}"): (LOGIN, 409, 404, 404),
    ("POST", "/account/subscriptions/{sub}/change/{plan}"): (LOGIN, 409, 404, 404),
    ("GET", "/account/subscriptions/{sub}/changed"): (LOGIN, 409, 404, 404),
    # Content pages (tests/site_content): a preview and a way in for whoever may not read
    # them, the whole page for holders of the role; admins see everything.
    ("GET", "/premium"): (403, 200, 403, 200),
    ("GET", "/pro"): (403, 403, 403, 200),
    ("GET", "/no-such-page"): (404, 404, 404, 404),
    ("GET", "/checkout/{token}/status"): (LOGIN, 200, 404, 404),
    ("GET", "/checkout/return"): (LOGIN, 200, 200, 200),
    ("GET", "/checkout/cancelled"): (LOGIN, 302, 302, 302),
    ("POST", "/checkout/subscribe/{plan}"): (LOGIN, 409, 200, 200),
    ("GET", "/auth/login"): (200, 302, 302, 302),
    ("GET", "/auth/register"): (200, 302, 302, 302),
    ("GET", "/auth/password"): (LOGIN, 200, 200, 200),
    ("GET", "/auth/reset"): (200, 200, 200, 200),
    ("GET", "/auth/email"): (LOGIN, 200, 200, 200),
    ("GET", "/auth/email/{forged}"): (LOGIN, 302, 302, 302),
    ("GET", "/auth/reset/{forged}"): (302, 302, 302, 302),  # back to asking for a link
    ("POST", "/auth/logout"): (302, 302, 302, 302),
    ("POST", "/auth/logout-everywhere"): (LOGIN, 302, 302, 302),
    ("POST", "/paypal/ipn"): (200, 200, 200, 200),
    ("POST", "/paypal/webhook"): (200, 200, 200, 200),  # stored; judged by the worker
    ("GET", "/checkout/rest/return"): (LOGIN, 404, 404, 404),  # no checkout named
    ("GET", "/checkout/rest/{token}/waiting"): (LOGIN, 200, 404, 404),
    ("POST", "/checkout/rest/{token}/approved"): (LOGIN, 409, 404, 404),  # no id: refused
    # Passes (gateway/passes/): a Buy Now page for a pass, nothing for a subscription plan;
    # the Orders return names no checkout.
    ("POST", "/passes/buy/{pass}"): (LOGIN, 200, 200, 200),
    ("POST", "/passes/buy/{plan}"): (LOGIN, 404, 404, 404),
    ("GET", "/passes/return"): (LOGIN, 404, 404, 404),
    ("GET", "/static/site.css"): (200, 200, 200, 200),
    ("GET", "/favicon.ico"): (200, 200, 200, 200),
    ("GET", "/healthz"): (200, 200, 200, 200),
    ("GET", "/readyz"): (200, 200, 200, 200),
    ("GET", "/metrics"): (404, 404, 404, 404),  # off: no GATEWAY_METRICS_TOKEN
    # Private feeds and access tokens: A's feed opens to whoever holds its address (it
    # shows A's view); a token is revoked only by its owner.
    ("GET", "/feed/{feed}"): (200, 200, 200, 200),
    ("GET", "/feed/{forged}"): (404, 404, 404, 404),
    ("GET", "/account/tokens"): (LOGIN, 200, 200, 200),
    # Forward auth (tests/forward/): asked without the request it is about, the check
    # refuses, whatever the method a proxy uses; the paywall needs the URL it is for.
    **{(m, "/gate/check"): (400, 400, 400, 400) for m in ("GET", "POST", "PUT", "PATCH")},
    ("DELETE", "/gate/check"): (400, 400, 400, 400),
    ("GET", "/gate/paywall"): (400, 400, 400, 400),
    ("GET", "/gate/me"): (200, 200, 200, 200),
    ("POST", "/account/tokens/feed"): (LOGIN, 200, 200, 200),
    ("POST", "/account/tokens/api"): (LOGIN, 400, 400, 400),  # no label
    ("POST", "/account/tokens/{pat}/revoke"): (LOGIN, 303, 404, 404),
}
ADMIN_ONLY = [
    ("GET", "/admin/"),
    ("GET", "/admin/dashboard/active.csv"),
    ("GET", "/admin/dashboard/flags.csv"),
    ("GET", "/admin/dashboard/movements.csv"),
    ("GET", "/admin/dashboard/renewals.csv"),
    ("GET", "/admin/dashboard/revenue.csv"),
    ("POST", "/admin/dashboard/refresh"),  # counts now (little data: at once), 303
    ("GET", "/admin/exports"),
    ("POST", "/admin/exports"),  # no kind: 400
    ("GET", "/admin/exports/{export}/download"),  # failed, not ready: 409
    ("GET", "/admin/flags"),
    ("POST", "/admin/flags/{flag}/resolve"),
    ("POST", "/admin/flags/{flag}/match"),
    ("POST", "/admin/flags/{flag}/dismiss"),
    ("POST", "/admin/flags/{flag}/reverify"),
    ("POST", "/admin/flags/{flag}/accept"),
    ("GET", "/admin/members"),
    ("GET", "/admin/members.csv"),
    ("GET", "/admin/members/{member}"),
    ("POST", "/admin/members/{member}/reset-link"),
    ("POST", "/admin/members/{member}/unlock"),
    ("GET", "/admin/messages"),
    ("GET", "/admin/messages/{note}"),
    ("GET", "/admin/messages/{note}/raw"),
    ("POST", "/admin/messages/{note}/reprocess"),
    ("GET", "/admin/outbox"),
    ("GET", "/admin/payments"),
    ("GET", "/admin/payments.csv"),
    ("GET", "/admin/payments/{payment_id}"),
    ("GET", "/admin/payments/{payment_id}/refund"),
    ("GET", "/admin/plans"),
    ("GET", "/admin/plans/{plan_id}/edit"),
    ("GET", "/admin/plans/new"),
    ("GET", "/admin/roles"),
    ("GET", "/admin/roles/{role_id}"),
    ("POST", "/admin/roles/{role_id}/{what}"),  # retire: no reason, 400
    ("GET", "/admin/rules"),
    ("GET", "/admin/rules/export"),
    ("POST", "/admin/rules/default"),  # no value: 400
    ("POST", "/admin/rules/import"),  # no file: 400
    ("POST", "/admin/rules/{rule_id}/move"),  # no position: 400
    ("POST", "/admin/rules/{rule_id}/remove"),
    ("GET", "/admin/reconciliation"),
    ("POST", "/admin/reconciliation/import"),  # no file: 400
    ("POST", "/admin/reconciliation/run"),  # PayPal unreachable here: a failed run, 303
    ("GET", "/admin/status"),
    ("GET", "/admin/subscriptions"),
    ("GET", "/admin/subscriptions.csv"),
    ("GET", "/admin/subscriptions/{sub}"),
    ("POST", "/admin/subscriptions/{sub}/assign"),
    ("GET", "/admin/subscriptions/{sub}/cancel"),  # no PayPal side to cancel here: 409
    ("POST", "/admin/subscriptions/{sub}/cancel"),
    ("POST", "/admin/subscriptions/{sub}/extend"),
    ("GET", "/admin/subscriptions/{sub}/revoke"),
    ("POST", "/admin/subscriptions/{sub}/revoke"),
]


@pytest.fixture
def world(app, db, clock, admin, make_user, make_plan, login_as):
    premium = make_plan("premium-monthly", role="premium")
    make_plan("pro-monthly", role="pro", price="29.00")
    make_plan("premium-spring", role="premium", price="5.00", offer_code="spring")
    make_plan("day-pass", role="pro", period_unit="D", kind=PlanKind.PASS)
    app.config["PASS_CHECKOUT"] = "standard"  # the Buy Now page; Orders needs a PayPal
    a, b = make_user("a@example.com"), make_user("b@example.com")
    sub = admin_actions.grant(admin, a, premium, clock.now() + timedelta(days=30), "t", clock.now())
    sub.paypal_id = "I-WALK"  # a renewing PayPal subscription: A may not buy it twice
    checkout = open_checkout(a, premium, clock.now())
    payment = Payment(
        subscription_id=sub.id,
        txn_id="TXNWALK",
        status=PaymentStatus.COMPLETED,
        amount=Decimal("9.00"),
        currency="USD",
        paid_at=clock.now(),
        created_at=clock.now(),
    )
    db.session.add(payment)
    export = ExportRequest(
        kind="payments",
        filters={"q": "a-rather-long-search-for-a-payment@example.com"},
        requested_by=admin.id,
        requested_at=clock.now(),
        status=ExportStatus.FAILED,
        attempts=3,
        rows_written=0,
        error="the runner writing it stopped 3 times before it was complete",
    )
    db.session.add(export)
    rule = edit.add(edit.Entry(edit.check("/walk/**", "members")), at=clock.now(), actor=None)
    _, feed = tokens.create(a, "feed", "A's feed")
    pat, _ = tokens.create(a, "api", "A's script")
    db.session.commit()
    return {
        "role_id": premium.roles[0].id,
        "rule_id": rule.id,
        "a": a,
        "b": b,
        "admin": admin,
        "sub": sub,
        "token": checkout.token,
        "plan": premium.code,
        "plan_id": premium.id,
        "offer": "spring",
        "payment": payment.id,
        "feed": feed,
        "pat": pat.id,
        "export": export.id,
    }


def status_of(app, login_as, who, method, path):
    browser = app.test_client()
    if who is not None:
        login_as(who, browser=browser)
    r = browser.open(path, method=method, data={})
    location = r.headers.get("Location", "")
    return LOGIN if r.status_code == 302 and "/auth/login" in location else r.status_code


def test_every_route_is_in_the_walk(app):
    """Is each route of the app (and method) listed here, member-facing or admin-only?"""
    shape = re.compile(r"<[^>]+>|\{[^}]+\}")
    listed = {(m, shape.sub("*", p)) for m, p in list(EXPECTED) + ADMIN_ONLY}
    listed.add(("GET", "/static/*"))
    listed.add(("GET", "/*"))  # the content route: walked through /premium, /pro and a 404
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/_test/"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if (
                (method, shape.sub("*", rule.rule)) not in listed
                and method == "POST"
                and ("GET", shape.sub("*", rule.rule)) in listed
            ):
                continue  # a form's POST beside its GET page: walked through the GET
            assert (method, shape.sub("*", rule.rule)) in listed, (method, rule.rule)


def test_member_routes_answer_each_principal_as_expected(app, world, login_as):
    """No cross-member access: B never sees A's checkout; areas follow roles."""
    fill = {
        "token": world["token"],
        "plan": world["plan"],
        "offer": world["offer"],
        "pass": "day-pass",
        "forged": "not-a-token",
        "payment": world["payment"],
        "txn": "TXNWALK",
        "sub": world["sub"].id,
        "feed": world["feed"],
        "pat": world["pat"],
    }
    for (method, template), expected in EXPECTED.items():
        path = template.format(**fill)
        got = tuple(
            status_of(app, login_as, who, method, path)
            for who in (None, world["a"], world["b"], world["admin"])
        )
        assert got == expected, (method, path, got)


def test_admin_routes_are_for_admins_only(app, world, login_as):
    """Anonymous -> log-in page; members -> 403; the admin gets an answer, never a 500."""
    fill = {
        "flag": 1,
        "member": world["a"].id,
        "note": 1,
        "plan_id": world["plan_id"],
        "payment_id": world["payment"],
        "sub": world["sub"].id,
        "role_id": world["role_id"],
        "what": "retire",
        "rule_id": world["rule_id"],
        "export": world["export"],
    }
    for method, template in ADMIN_ONLY:
        path = template.format(**fill)
        anon, a, b, admin = (
            status_of(app, login_as, who, method, path)
            for who in (None, world["a"], world["b"], world["admin"])
        )
        assert (anon, a, b) == (LOGIN, 403, 403), (method, path)
        assert admin in (200, 303, 400, 404, 409), (method, path, admin)
