"""REST: OAuth, Subscriptions API, approval, signed webhooks, refunds, reporting, CSV."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import zlib
from datetime import timedelta

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

RETURN = "http://merchant.invalid/checkout/return"


def create_subscription(paypal, custom_id="chk-1", plan_id="P-MONTHLY"):
    r = paypal.api(
        "POST",
        "/v1/billing/subscriptions",
        json={
            "plan_id": plan_id,
            "custom_id": custom_id,
            "application_context": {"return_url": RETURN, "cancel_url": RETURN + "?cancel=1"},
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


def approve(paypal, sub):
    link = next(link["href"] for link in sub["links"] if link["rel"] == "approve")
    page = paypal.http.get(link, timeout=5)
    assert page.status_code == 200
    found = re.search(r'name="ba_token" value="([^"]+)"', page.text)
    assert found is not None, page.text
    token = found.group(1)
    r = paypal.http.post(
        paypal.url("/sim/checkout/rest"),
        allow_redirects=False,
        timeout=5,
        data={
            "ba_token": token,
            "decision": "approve",
            "email": "buyer@example.com",
            "first_name": "Zoë",
            "last_name": "Ng",
        },
    )
    assert r.status_code == 303
    return r.headers["Location"]


def webhooks(paypal, listener):
    paypal.deliver()
    out = [r for r in listener.received if r.path == "/webhook"]
    listener.received.clear()
    return out


def test_oauth_token_and_errors(paypal, sim):
    """Are tokens issued for the right credentials only, and do they expire?"""
    bad = paypal.http.post(
        paypal.url("/v1/oauth2/token"),
        auth=("sim-client-id", "wrong"),
        data={"grant_type": "client_credentials"},
        timeout=5,
    )
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    good = paypal.http.post(
        paypal.url("/v1/oauth2/token"),
        auth=("sim-client-id", "sim-client-secret"),
        data={"grant_type": "client_credentials"},
        timeout=5,
    ).json()
    assert good["token_type"] == "Bearer" and good["expires_in"] == 32400
    assert "https://uri.paypal.com/services/subscriptions" in good["scope"]
    auth = {"Authorization": f"Bearer {good['access_token']}"}
    url = paypal.url("/v1/billing/plans/P-MONTHLY")
    assert paypal.http.get(url, headers=auth, timeout=5).status_code == 200
    sim.clock.advance(timedelta(seconds=32400))
    expired = paypal.http.get(url, headers=auth, timeout=5)
    assert expired.status_code == 401 and expired.json()["error"] == "invalid_token"
    assert paypal.http.get(paypal.url("/v1/billing/plans/P-MONTHLY"), timeout=5).status_code == 401


def test_subscription_create_approve_get(paypal, listener):
    """Create -> APPROVAL_PENDING with an approve link; approve -> ACTIVE, return URL with id."""
    sub = create_subscription(paypal)
    assert sub["status"] == "APPROVAL_PENDING" and sub["id"].startswith("I-")
    assert sub["custom_id"] == "chk-1"
    location = approve(paypal, sub)
    assert location.startswith(RETURN + "?subscription_id=" + sub["id"])
    got = paypal.api("GET", f"/v1/billing/subscriptions/{sub['id']}").json()
    assert got["status"] == "ACTIVE" and got["plan_id"] == "P-MONTHLY"
    assert got["subscriber"]["name"]["given_name"] == "Zoë"
    info = got["billing_info"]
    assert info["last_payment"]["amount"] == {"currency_code": "USD", "value": "9.00"}
    assert info["next_billing_time"] == "2026-02-15T12:00:00Z"
    assert info["failed_payments_count"] == 0
    events = [json.loads(w.body)["event_type"] for w in webhooks(paypal, listener)]
    assert events == [
        "BILLING.SUBSCRIPTION.CREATED",
        "BILLING.SUBSCRIPTION.ACTIVATED",
        "PAYMENT.SALE.COMPLETED",
    ]


def test_api_errors_are_paypal_shaped(paypal):
    """Do unknown ids and bad bodies answer PayPal's error JSON?"""
    r = paypal.api("GET", "/v1/billing/subscriptions/I-NOPE")
    assert r.status_code == 404 and r.json()["name"] == "RESOURCE_NOT_FOUND"
    assert r.json()["details"][0]["issue"] == "INVALID_RESOURCE_ID" and r.json()["debug_id"]
    r = paypal.api("POST", "/v1/billing/subscriptions", json={"plan_id": "P-NOPE"})
    assert r.status_code == 404
    r = paypal.api(
        "POST", "/v1/billing/subscriptions", json={"plan_id": "P-MONTHLY", "custom_id": "x" * 128}
    )
    assert r.status_code == 400 and r.json()["name"] == "INVALID_REQUEST"


def test_cancel_suspend_activate(paypal, listener):
    """Do cancel/suspend/activate answer 204, change status and send webhooks?"""
    sub = create_subscription(paypal)
    approve(paypal, sub)
    webhooks(paypal, listener)
    path = f"/v1/billing/subscriptions/{sub['id']}"
    assert paypal.api("POST", path + "/suspend", json={"reason": "x"}).status_code == 204
    assert paypal.api("POST", path + "/activate", json={"reason": "x"}).status_code == 204
    assert paypal.api("POST", path + "/cancel", json={"reason": "bye"}).status_code == 204
    assert paypal.api("GET", path).json()["status"] == "CANCELLED"
    again = paypal.api("POST", path + "/cancel", json={})
    assert again.status_code == 422 and again.json()["name"] == "UNPROCESSABLE_ENTITY"
    assert [json.loads(w.body)["event_type"] for w in webhooks(paypal, listener)] == [
        "BILLING.SUBSCRIPTION.SUSPENDED",
        "BILLING.SUBSCRIPTION.ACTIVATED",
        "BILLING.SUBSCRIPTION.CANCELLED",
    ]


def test_rest_renewal_failure_suspends(paypal, listener):
    """Do REST renewals bill monthly, and three failures suspend the subscription?"""
    sub = create_subscription(paypal)
    approve(paypal, sub)
    paypal.control("clock/advance", days=31)
    paypal.control(f"subscriptions/{sub['id']}/fail-next", count=3)
    paypal.control("clock/advance", days=31 + 5 + 5)
    events = [json.loads(w.body)["event_type"] for w in webhooks(paypal, listener)]
    assert events[-5:] == [
        "PAYMENT.SALE.COMPLETED",
        "BILLING.SUBSCRIPTION.PAYMENT.FAILED",
        "BILLING.SUBSCRIPTION.PAYMENT.FAILED",
        "BILLING.SUBSCRIPTION.PAYMENT.FAILED",
        "BILLING.SUBSCRIPTION.SUSPENDED",
    ]
    got = paypal.api("GET", f"/v1/billing/subscriptions/{sub['id']}").json()
    assert got["status"] == "SUSPENDED" and got["billing_info"]["failed_payments_count"] == 3
    txns = paypal.api(
        "GET",
        f"/v1/billing/subscriptions/{sub['id']}/transactions",
        params={"start_time": "2026-01-01T00:00:00Z", "end_time": "2026-12-31T00:00:00Z"},
    ).json()
    assert [t["status"] for t in txns["transactions"]] == ["COMPLETED", "COMPLETED"]
    assert (
        paypal.api("GET", f"/v1/billing/subscriptions/{sub['id']}/transactions").status_code == 400
    )


def test_webhook_headers_and_signature_verify_with_the_standard_recipe(paypal, listener):
    """Does each webhook verify as id|time|webhook_id|crc32(body) against the cert URL?"""
    sub = create_subscription(paypal)
    approve(paypal, sub)
    hooks = webhooks(paypal, listener)
    sale = hooks[-1]
    h = sale.headers
    assert h["Paypal-Auth-Algo"] == "SHA256withRSA"
    assert re.fullmatch(r"[0-9a-f-]{36}", h["Paypal-Transmission-Id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", h["Paypal-Transmission-Time"])
    cert = x509.load_pem_x509_certificate(requests.get(h["Paypal-Cert-Url"], timeout=5).content)
    message = (
        f"{h['Paypal-Transmission-Id']}|{h['Paypal-Transmission-Time']}|WH-SIM-DEFAULT|"
        f"{zlib.crc32(sale.body) & 0xFFFFFFFF}"
    ).encode()
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(
        base64.b64decode(h["Paypal-Transmission-Sig"]), message, padding.PKCS1v15(), hashes.SHA256()
    )  # raises if wrong
    event = json.loads(sale.body)
    assert event["id"].startswith("WH-") and event["resource_type"] == "sale"
    assert event["resource"]["billing_agreement_id"] == sub["id"]
    assert event["resource"]["amount"] == {
        "total": "9.00",
        "currency": "USD",
        "details": {"subtotal": "9.00"},
    }


def test_verify_webhook_signature_api(paypal, listener):
    """Does the verify API answer SUCCESS for a real event and FAILURE (HTTP 200) otherwise?"""
    sub = create_subscription(paypal)
    approve(paypal, sub)
    sale = webhooks(paypal, listener)[-1]
    h = sale.headers
    body = {
        "auth_algo": h["Paypal-Auth-Algo"],
        "cert_url": h["Paypal-Cert-Url"],
        "transmission_id": h["Paypal-Transmission-Id"],
        "transmission_sig": h["Paypal-Transmission-Sig"],
        "transmission_time": h["Paypal-Transmission-Time"],
        "webhook_id": "WH-SIM-DEFAULT",
        "webhook_event": json.loads(sale.body),
    }
    ok = paypal.api("POST", "/v1/notifications/verify-webhook-signature", json=body)
    assert ok.status_code == 200 and ok.json() == {"verification_status": "SUCCESS"}
    forged = json.loads(sale.body)
    forged["resource"]["amount"]["total"] = "0.01"
    for change in (
        {"webhook_event": forged},
        {"webhook_id": "WH-OTHER"},
        {"transmission_id": "00000000-0000-0000-0000-000000000000"},
    ):
        r = paypal.api(
            "POST", "/v1/notifications/verify-webhook-signature", json={**body, **change}
        )
        assert r.status_code == 200 and r.json()["verification_status"] == "FAILURE"
    r = paypal.api("POST", "/v1/notifications/verify-webhook-signature", json={"auth_algo": "x"})
    assert r.status_code == 400


def test_webhook_retries_on_non_2xx(paypal, listener, sim):
    """Is a webhook answered with 500 sent again later, and at most 25 times?"""
    listener.answer(*[500] * 40)
    sub = create_subscription(paypal)
    created = sim.outbox.messages[-1]
    while created.state == "queued":
        sim.clock.advance(max(created.next_attempt - sim.clock.now(), timedelta(0)))
        paypal.deliver()
    tries = [a for a in sim.outbox.log if a.message_id == created.id]
    assert len(tries) == 25 and created.state == "failed"
    assert tries[-1].at - tries[0].at <= timedelta(days=3)
    assert sub["id"]


def test_refund_idempotency(paypal, listener):
    """Does the same PayPal-Request-Id refund once, however often it is sent?"""
    sub = create_subscription(paypal)
    approve(paypal, sub)
    sale_id = json.loads(webhooks(paypal, listener)[-1].body)["resource"]["id"]
    headers = {"PayPal-Request-Id": "refund-42"}
    first = paypal.api("POST", f"/v1/payments/sale/{sale_id}/refund", json={}, headers=headers)
    again = paypal.api("POST", f"/v1/payments/sale/{sale_id}/refund", json={}, headers=headers)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"] and first.json()["amount"]["total"] == "9.00"
    other = paypal.api(
        "POST",
        f"/v1/payments/sale/{sale_id}/refund",
        json={},
        headers={"PayPal-Request-Id": "refund-43"},
    )
    assert other.status_code == 422
    refunds = [json.loads(w.body) for w in webhooks(paypal, listener)]
    assert [e["event_type"] for e in refunds] == ["PAYMENT.SALE.REFUNDED"]
    assert paypal.api("GET", f"/v1/payments/sale/{sale_id}").json()["state"] == "refunded"


def test_transaction_search_window_paging_and_lag(paypal, sim_app):
    """Does Transaction Search enforce 31 days, page, and hide rows younger than the lag?"""
    for i in range(3):
        approve(paypal, create_subscription(paypal, custom_id=f"c{i}"))
    q = {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-01-31T23:59:59Z"}
    r = paypal.api("GET", "/v1/reporting/transactions", params={**q, "page_size": 2})
    body = r.json()
    assert r.status_code == 200 and body["total_items"] == 3 and body["total_pages"] == 2
    info = body["transaction_details"][0]["transaction_info"]
    assert info["transaction_event_code"] == "T0002" and info["transaction_status"] == "S"
    assert info["paypal_reference_id_type"] == "SUB"
    assert (
        len(
            paypal.api(
                "GET", "/v1/reporting/transactions", params={**q, "page_size": 2, "page": 2}
            ).json()["transaction_details"]
        )
        == 1
    )
    too_long = paypal.api(
        "GET",
        "/v1/reporting/transactions",
        params={"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-02-02T00:00:00Z"},
    )
    assert too_long.status_code == 400 and too_long.json()["name"] == "INVALID_REQUEST"
    sim_app.config["SIM_REPORTING_LAG_MINUTES"] = 180
    assert paypal.api("GET", "/v1/reporting/transactions", params=q).json()["total_items"] == 0


def test_activity_csv_has_paypal_header(paypal):
    """Does the Activity CSV use PayPal's US column names and one row per transaction?"""
    sub_id = paypal.subscribe_standard(custom="tok-csv")
    state = paypal.http.get(paypal.url("/sim/api/state"), timeout=5).json()
    paypal.control(f"transactions/{state['transactions'][0]['id']}/refund")
    text = paypal.http.get(paypal.url("/sim/reports/activity.csv"), timeout=5).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.startswith('"Date","Time","TimeZone","Name","Type","Status","Currency","Gross"')
    assert text.splitlines()[0].endswith('"Country Code","Balance Impact"')
    pay, refund = rows
    assert pay["Type"] == "Subscription Payment" and pay["Gross"] == "9.00"
    assert pay["TimeZone"] == "PST" and pay["Date"] == "01/15/2026"
    assert pay["Reference Txn ID"] == sub_id and pay["Custom Number"] == "tok-csv"
    assert refund["Gross"] == "-9.00" and refund["Balance Impact"] == "Debit"
    assert refund["Reference Txn ID"] == pay["Transaction ID"]
