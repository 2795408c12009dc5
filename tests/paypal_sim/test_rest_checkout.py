"""The JS SDK's checkout without a browser, APPROVED-not-ACTIVE, trial cycles in the
subscription JSON, REST payments also reported by IPN, and the webhook events list."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest

from .rest_helpers import event_types, received, rest_checkout


def ipns(paypal, listener) -> list[dict[str, str]]:
    return [
        dict(parse_qsl(r.body.decode("ascii"), encoding="windows-1252"))
        for r in received(paypal, listener, "/ipn")
    ]


def get(paypal, sub_id: str) -> dict:
    r = paypal.api("GET", f"/v1/billing/subscriptions/{sub_id}")
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def trial_plan(paypal):
    r = paypal.api(
        "POST",
        "/v1/billing/plans",
        json={
            "product_id": "PROD-1",
            "name": "Premium with a week free",
            "billing_cycles": [
                {
                    "frequency": {"interval_unit": "DAY", "interval_count": 7},
                    "tenure_type": "TRIAL",
                    "sequence": 1,
                    "total_cycles": 1,
                },
                {
                    "frequency": {"interval_unit": "MONTH", "interval_count": 1},
                    "tenure_type": "REGULAR",
                    "sequence": 2,
                    "total_cycles": 0,
                    "pricing_scheme": {"fixed_price": {"value": "9.00", "currency_code": "USD"}},
                },
            ],
        },
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


# -- the JS SDK's create + popup approval ------------------------------------------------


def test_control_checkout_creates_and_approves(paypal, listener):
    """Is the subscription ACTIVE and charged, as after the buyer's popup?"""
    sub = rest_checkout(paypal, custom_id="chk-7", email="ana@example.com")
    assert sub["id"].startswith("I-") and sub["status"] == "ACTIVE"
    assert sub["custom_id"] == "chk-7" and sub["plan_id"] == "P-MONTHLY"
    assert sub["subscriber"]["email_address"] == "ana@example.com"
    assert get(paypal, sub["id"])["status"] == "ACTIVE"
    assert event_types(received(paypal, listener)) == [
        "BILLING.SUBSCRIPTION.CREATED",
        "BILLING.SUBSCRIPTION.ACTIVATED",
        "PAYMENT.SALE.COMPLETED",
    ]


def test_control_checkout_without_approval_stays_pending(paypal, listener):
    """With approve false, is it APPROVAL_PENDING with an approve link, and approvable later?"""
    sub = rest_checkout(paypal, approve=False)
    assert sub["status"] == "APPROVAL_PENDING" and "billing_info" not in sub
    assert any(link["rel"] == "approve" for link in sub["links"])
    assert event_types(received(paypal, listener)) == ["BILLING.SUBSCRIPTION.CREATED"]
    approved = paypal.control(f"subscriptions/{sub['id']}/approve", email="late@example.com")
    assert approved["status"] == "ACTIVE"
    assert approved["subscriber"]["email_address"] == "late@example.com"


def test_control_checkout_refuses_bad_input(paypal):
    """Are an unknown plan (404) and a bad custom_id (400) refused?"""
    url = paypal.url("/sim/api/rest/subscriptions")
    r = paypal.http.post(url, json={"plan_id": "P-NOPE"}, timeout=5)
    assert r.status_code == 404
    r = paypal.http.post(url, json={"plan_id": "P-MONTHLY", "custom_id": "x" * 128}, timeout=5)
    assert r.status_code == 400 and "custom_id" in r.json()["error"]


def test_approved_but_not_activated(paypal, listener, sim):
    """activate false: APPROVED, nothing billed, no webhook; activating then starts it."""
    sub = rest_checkout(paypal, activate=False)
    assert sub["status"] == "APPROVED"
    assert "next_billing_time" not in sub["billing_info"]
    assert "last_payment" not in sub["billing_info"]
    assert sim.world.transactions == {}
    assert event_types(received(paypal, listener)) == ["BILLING.SUBSCRIPTION.CREATED"]
    paypal.control("clock/advance", days=40)  # an APPROVED subscription is never billed
    assert sim.world.transactions == {}
    r = paypal.api("POST", f"/v1/billing/subscriptions/{sub['id']}/activate", json={})
    assert r.status_code == 204
    got = get(paypal, sub["id"])
    assert got["status"] == "ACTIVE" and got["billing_info"]["last_payment"]
    assert event_types(received(paypal, listener)) == [
        "BILLING.SUBSCRIPTION.ACTIVATED",
        "PAYMENT.SALE.COMPLETED",
    ]


def test_user_action_continue_leaves_it_approved(paypal, listener):
    """Does the API's user_action CONTINUE make the buyer's approval stop at APPROVED?"""
    r = paypal.api(
        "POST",
        "/v1/billing/subscriptions",
        json={"plan_id": "P-MONTHLY", "application_context": {"user_action": "CONTINUE"}},
    )
    assert r.status_code == 201
    sub_id = r.json()["id"]
    assert paypal.control(f"subscriptions/{sub_id}/approve")["status"] == "APPROVED"
    assert paypal.control(f"subscriptions/{sub_id}/activate")["status"] == "ACTIVE"
    bad = paypal.api(
        "POST",
        "/v1/billing/subscriptions",
        json={"plan_id": "P-MONTHLY", "application_context": {"user_action": "LATER"}},
    )
    assert bad.status_code == 400


def test_control_cancel_and_suspend(paypal, listener):
    """Do the control API's cancel and suspend work on a REST subscription, with webhooks?"""
    first = rest_checkout(paypal, custom_id="a")
    second = rest_checkout(paypal, custom_id="b")
    received(paypal, listener)
    assert paypal.control(f"subscriptions/{first['id']}/suspend")["status"] == "SUSPENDED"
    assert paypal.control(f"subscriptions/{second['id']}/cancel")["status"] == "CANCELLED"
    pending = rest_checkout(paypal, custom_id="c", activate=False)
    assert paypal.control(f"subscriptions/{pending['id']}/cancel")["status"] == "CANCELLED"
    assert event_types(received(paypal, listener)) == [
        "BILLING.SUBSCRIPTION.SUSPENDED",
        "BILLING.SUBSCRIPTION.CANCELLED",
        "BILLING.SUBSCRIPTION.CREATED",
        "BILLING.SUBSCRIPTION.CANCELLED",
    ]


# -- the subscription JSON ---------------------------------------------------------------


def test_subscription_json_billing_info(paypal):
    """Does an active subscription carry last payment, next billing time, cycle executions?"""
    got = get(paypal, rest_checkout(paypal)["id"])
    assert got["plan_overridden"] is False
    info = got["billing_info"]
    assert info["last_payment"] == {
        "amount": {"currency_code": "USD", "value": "9.00"},
        "time": "2026-01-15T12:00:00Z",
    }
    assert info["next_billing_time"] == "2026-02-15T12:00:00Z"
    assert info["cycle_executions"] == [
        {
            "tenure_type": "REGULAR",
            "sequence": 1,
            "cycles_completed": 1,
            "cycles_remaining": 0,
            "current_pricing_scheme_version": 1,
            "total_cycles": 0,
        }
    ]


def test_subscription_json_with_a_trial(paypal, listener, trial_plan):
    """With a trial: TRIAL then REGULAR, nothing billed, next billing when the trial ends."""
    sub = rest_checkout(paypal, plan_id=trial_plan, approve=False)
    assert sub["plan_id"] == trial_plan
    paypal.control(f"subscriptions/{sub['id']}/approve")
    got = get(paypal, sub["id"])
    info = got["billing_info"]
    assert [c["tenure_type"] for c in info["cycle_executions"]] == ["TRIAL", "REGULAR"]
    trial, regular = info["cycle_executions"]
    assert (trial["sequence"], trial["cycles_completed"], trial["total_cycles"]) == (1, 1, 1)
    assert (regular["sequence"], regular["cycles_completed"]) == (2, 0)
    assert info["next_billing_time"] == "2026-01-22T12:00:00Z"
    assert "last_payment" not in info and got["plan_overridden"] is False
    assert "PAYMENT.SALE.COMPLETED" not in event_types(received(paypal, listener))
    paypal.control("clock/advance", days=7)
    info = get(paypal, sub["id"])["billing_info"]
    assert info["cycle_executions"][1]["cycles_completed"] == 1
    assert info["last_payment"]["time"] == "2026-01-22T12:00:00Z"
    assert info["next_billing_time"] == "2026-02-22T12:00:00Z"


# -- REST payments on the IPN channel too ------------------------------------------------


def test_rest_ipn_is_off_by_default(paypal, listener):
    """Without rest_ipn, does a REST charge send a webhook and no IPN?"""
    rest_checkout(paypal)
    assert ipns(paypal, listener) == []


def test_rest_ipn_reports_each_charge_on_both_channels(paypal, listener):
    """With rest_ipn, is each REST charge also a recurring_payment IPN with the same txn_id?"""
    assert paypal.control("account", rest_ipn=True)["rest_ipn"] is True
    sub = rest_checkout(paypal, custom_id="chk-both")
    paypal.deliver()
    sale = json.loads(
        next(r.body for r in listener.received if r.path == "/webhook" and b"SALE" in r.body)
    )
    (ipn,) = ipns(paypal, listener)
    assert ipn["txn_type"] == "recurring_payment"
    assert ipn["recurring_payment_id"] == sub["id"]
    assert ipn["txn_id"] == sale["resource"]["id"]
    assert ipn["rp_invoice_id"] == ipn["custom"] == "chk-both"
    assert (ipn["mc_gross"], ipn["payment_status"]) == ("9.00", "Completed")
    paypal.control("clock/advance", days=31)
    renewal = ipns(paypal, listener)
    assert [m["txn_type"] for m in renewal] == ["recurring_payment"]
    assert renewal[0]["txn_id"] != ipn["txn_id"]


def test_rest_ipn_postback_verifies(paypal, listener):
    """Is the REST charge's IPN VERIFIED on postback, byte for byte?"""
    paypal.control("account", rest_ipn="true")
    rest_checkout(paypal)
    paypal.deliver()
    body = next(r.body for r in listener.received if r.path == "/ipn")
    r = paypal.http.post(
        paypal.url("/cgi-bin/webscr"), data=b"cmd=_notify-validate&" + body, timeout=5
    )
    assert r.text == "VERIFIED"


def test_rest_ipn_refund_and_reversal(paypal, listener, sim):
    """With rest_ipn, are a REST payment's refund and reversal IPNs too (parent_txn_id)?"""
    paypal.control("account", rest_ipn=True)
    rest_checkout(paypal, custom_id="a")
    rest_checkout(paypal, custom_id="b")
    first, second = (t.id for t in sim.world.transactions.values())
    ipns(paypal, listener)
    paypal.control(f"transactions/{first}/refund")
    paypal.control(f"transactions/{second}/reverse")
    assert [(m["payment_status"], m["parent_txn_id"]) for m in ipns(paypal, listener)] == [
        ("Refunded", first),
        ("Reversed", second),
    ]
    paypal.control("account", rest_ipn=False)
    paypal.control(f"transactions/{second}/cancel-reversal")
    assert ipns(paypal, listener) == []


def test_rest_ipn_from_start_up_config(listener, sim_clock):
    """Does PAYPAL_SIM_REST_IPN (config REST_IPN) switch it on at start-up?"""
    from paypal_sim import create_app, sim_of

    for value, expected in (("true", True), ("1", True), (False, False), ("off", False)):
        app = create_app({"SIM_AUTO_DELIVER": False, "SIM_CLOCK": sim_clock, "SIM_REST_IPN": value})
        assert sim_of(app).world.account.rest_ipn is expected


def test_rest_ipn_from_environment(monkeypatch, sim_clock):
    from paypal_sim import create_app, sim_of

    monkeypatch.setenv("PAYPAL_SIM_REST_IPN", "true")
    app = create_app({"SIM_AUTO_DELIVER": False, "SIM_CLOCK": sim_clock})
    assert sim_of(app).world.account.rest_ipn is True


# -- GET /v1/notifications/webhooks-events -----------------------------------------------


def test_webhook_events_list_newest_first_with_dropped_ones(paypal, listener, sim):
    """Are all events listed newest first, including one a fault dropped?"""
    paypal.control("faults", kind="webhook_drop")
    sub = rest_checkout(paypal)
    received(paypal, listener)
    r = paypal.api(
        "GET",
        "/v1/notifications/webhooks-events",
        params={"start_time": "2026-01-15T00:00:00Z", "end_time": "2026-01-16T00:00:00Z"},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 3 and body["links"] == []
    assert [e["event_type"] for e in body["events"]] == [
        "PAYMENT.SALE.COMPLETED",
        "BILLING.SUBSCRIPTION.ACTIVATED",
        "BILLING.SUBSCRIPTION.CREATED",  # dropped, never delivered, still listed
    ]
    created = body["events"][-1]
    assert created["resource"]["id"] == sub["id"]
    assert sim.outbox.messages[0].state == "dropped"
    one = paypal.api("GET", f"/v1/notifications/webhooks-events/{created['id']}")
    assert one.status_code == 200 and one.json() == created


def test_webhook_events_list_filters_and_pages(paypal, sim):
    """Do time window, event_type, transaction_id and page_size (with a next link) work?"""
    rest_checkout(paypal, custom_id="a")
    paypal.control("clock/advance", days=31)
    path = "/v1/notifications/webhooks-events"
    everything = paypal.api("GET", path, params={"page_size": 100}).json()
    assert everything["count"] == 4
    january = paypal.api(
        "GET",
        path,
        params={"start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-31T00:00:00Z"},
    ).json()
    assert january["count"] == 3
    sales = paypal.api("GET", path, params={"event_type": "PAYMENT.SALE.COMPLETED"}).json()
    assert sales["count"] == 2
    newest_sale = sales["events"][0]["resource"]["id"]
    assert sales["events"][0]["create_time"] == "2026-02-15T12:00:00Z"
    by_txn = paypal.api("GET", path, params={"transaction_id": newest_sale}).json()
    assert [e["id"] for e in by_txn["events"]] == [sales["events"][0]["id"]]
    first = paypal.api("GET", path, params={"page_size": 3}).json()
    assert first["count"] == 3
    (link,) = first["links"]
    assert link["rel"] == "next"
    rest = paypal.http.get(link["href"], headers={"Authorization": f"Bearer {paypal.token()}"})
    ids = [e["id"] for e in first["events"]] + [e["id"] for e in rest.json()["events"]]
    assert ids == [e["id"] for e in everything["events"]]
    assert rest.json()["links"] == []


def test_webhook_events_list_needs_a_token_and_good_arguments(paypal):
    """Is the list bearer-protected, and are bad times or page sizes a 400?"""
    url = paypal.url("/v1/notifications/webhooks-events")
    assert paypal.http.get(url, timeout=5).status_code == 401
    for params in ({"start_time": "yesterday"}, {"page_size": 0}, {"page_size": "x"}):
        r = paypal.api("GET", "/v1/notifications/webhooks-events", params=params)
        assert r.status_code == 400 and r.json()["name"] == "INVALID_REQUEST"
    missing = paypal.api("GET", "/v1/notifications/webhooks-events/WH-NOPE")
    assert missing.status_code == 404


def test_control_page_offers_the_new_controls(paypal):
    """Does the control page list the new faults, REST IPN, and a REST checkout form?"""
    rest_checkout(paypal, approve=False)
    page = paypal.http.get(paypal.url("/sim/"), timeout=5).text
    for text in (
        "webhook_foreign_cert",
        "ipn_drop",
        "REST IPN False",
        "/sim/api/rest/subscriptions",
    ):
        assert text in page
    assert "/approve" in page  # the pending subscription can be approved from the page
