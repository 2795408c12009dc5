"""Webhook faults: lost, badly signed, signed for another webhook, edited after signing,
pointing at a foreign certificate; and ipn_drop, which spares webhooks."""

from __future__ import annotations

import base64
import json
import zlib
from urllib.parse import parse_qsl

import pytest
import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from paypal_sim.webhooks import FOREIGN_CERT_URL, FOREIGN_WEBHOOK_ID

from .rest_helpers import event_types, received, rest_checkout


def verifies(hook, webhook_id="WH-SIM-DEFAULT", cert_url: str | None = None) -> bool:
    """The offline check: our webhook id, the raw body's CRC, the certificate's key."""
    h = hook.headers
    cert = x509.load_pem_x509_certificate(
        requests.get(cert_url or h["Paypal-Cert-Url"], timeout=5).content
    )
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    message = (
        f"{h['Paypal-Transmission-Id']}|{h['Paypal-Transmission-Time']}|{webhook_id}|"
        f"{zlib.crc32(hook.body) & 0xFFFFFFFF}"
    ).encode()
    try:
        key.verify(
            base64.b64decode(h["Paypal-Transmission-Sig"]),
            message,
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
        return True
    except InvalidSignature:
        return False


def verify_api(paypal, hook, webhook_id="WH-SIM-DEFAULT") -> str:
    h = hook.headers
    r = paypal.api(
        "POST",
        "/v1/notifications/verify-webhook-signature",
        json={
            "auth_algo": h["Paypal-Auth-Algo"],
            "cert_url": h["Paypal-Cert-Url"],
            "transmission_id": h["Paypal-Transmission-Id"],
            "transmission_sig": h["Paypal-Transmission-Sig"],
            "transmission_time": h["Paypal-Transmission-Time"],
            "webhook_id": webhook_id,
            "webhook_event": json.loads(hook.body),
        },
    )
    assert r.status_code == 200
    return r.json()["verification_status"]


def sale_completed(paypal, listener, fault: str):
    """A renewal's PAYMENT.SALE.COMPLETED sent with `fault`, after a clean first charge's."""
    rest_checkout(paypal)
    clean = received(paypal, listener)[-1]
    paypal.control("faults", kind=fault)
    paypal.control("clock/advance", days=31)
    hooks = received(paypal, listener)
    assert event_types([clean, *hooks]) == ["PAYMENT.SALE.COMPLETED"] * 2
    return clean, hooks[0]


def fault_of(sim, event_type: str) -> str:
    """The fault on the last message of this type."""
    return [m.fault for m in sim.outbox.messages if m.label == event_type][-1]


def test_webhook_drop_loses_only_the_next_webhook(paypal, listener, sim):
    """Is the next webhook never sent, logged as dropped, and the rest delivered?"""
    paypal.control("faults", kind="webhook_drop")
    sub = rest_checkout(paypal)
    assert event_types(received(paypal, listener)) == [
        "BILLING.SUBSCRIPTION.ACTIVATED",
        "PAYMENT.SALE.COMPLETED",
    ]
    dropped = sim.outbox.messages[0]
    assert (dropped.label, dropped.state, dropped.fault) == (
        "BILLING.SUBSCRIPTION.CREATED",
        "dropped",
        "webhook_drop",
    )
    log = paypal.http.get(paypal.url("/sim/api/deliveries"), timeout=5).json()
    first = log["attempts"][0]
    assert first["fault"] == "webhook_drop" and first["status"] is None
    assert first["note"] == "dropped by fault webhook_drop: never sent"
    assert log["messages"][0]["fault"] == "webhook_drop"
    assert sub["status"] == "ACTIVE"


def test_webhook_bad_signature(paypal, listener, sim):
    """Is the signature PayPal's key over another message, so neither check passes?"""
    good, bad = sale_completed(paypal, listener, "webhook_bad_signature")
    assert verifies(good) and verify_api(paypal, good) == "SUCCESS"
    assert not verifies(bad) and verify_api(paypal, bad) == "FAILURE"
    assert fault_of(sim, "PAYMENT.SALE.COMPLETED") == "webhook_bad_signature"
    assert [a.fault for a in sim.outbox.log if a.label == "PAYMENT.SALE.COMPLETED"] == [
        "",
        "webhook_bad_signature",
    ]


def test_webhook_wrong_webhook_id(paypal, listener, sim):
    """Is the webhook signed for another webhook id, so ours does not verify it?"""
    _, hook = sale_completed(paypal, listener, "webhook_wrong_webhook_id")
    assert not verifies(hook) and verify_api(paypal, hook) == "FAILURE"
    assert verifies(hook, webhook_id=FOREIGN_WEBHOOK_ID)  # genuinely signed, for another id
    assert FOREIGN_WEBHOOK_ID not in sim.world.webhooks
    assert fault_of(sim, "PAYMENT.SALE.COMPLETED") == "webhook_wrong_webhook_id"


def test_webhook_tampered(paypal, listener, sim):
    """Is the body edited after signing (the amount), so its CRC no longer matches?"""
    _, hook = sale_completed(paypal, listener, "webhook_tampered")
    amount = json.loads(hook.body)["resource"]["amount"]
    assert amount["total"] == "0.01" and amount["details"]["subtotal"] == "0.01"
    assert not verifies(hook) and verify_api(paypal, hook) == "FAILURE"
    # PayPal's own record of the event keeps the true amount.
    event_id = json.loads(hook.body)["id"]
    original = paypal.api("GET", f"/v1/notifications/webhooks-events/{event_id}").json()
    assert original["resource"]["amount"]["total"] == "9.00"
    assert fault_of(sim, "PAYMENT.SALE.COMPLETED") == "webhook_tampered"


def test_webhook_tampered_subscription_event_edits_custom_id(paypal, listener):
    """Without an amount, is the subscription's custom_id what is edited?"""
    paypal.control("faults", kind="webhook_tampered")
    rest_checkout(paypal, custom_id="chk-9")
    created = received(paypal, listener)[0]
    assert json.loads(created.body)["resource"]["custom_id"] == "tampered-chk-9"
    assert verify_api(paypal, created) == "FAILURE"


def test_webhook_foreign_cert(paypal, listener, sim):
    """Does PAYPAL-CERT-URL point at a host that is neither PayPal's nor the stand-in's?"""
    clean, hook = sale_completed(paypal, listener, "webhook_foreign_cert")
    assert hook.headers["Paypal-Cert-Url"] == FOREIGN_CERT_URL == "http://127.0.0.2:9/evil-cert.pem"
    assert verify_api(paypal, hook) == "FAILURE"
    # Only the URL is foreign: with the stand-in's own certificate the signature holds.
    assert verifies(hook, cert_url=clean.headers["Paypal-Cert-Url"])
    assert fault_of(sim, "PAYMENT.SALE.COMPLETED") == "webhook_foreign_cert"


def test_webhook_faults_wait_for_a_webhook(paypal, listener, sim):
    """Do IPNs in between leave webhook faults queued for the next webhook?"""
    paypal.control("faults", kind="webhook_drop")
    paypal.control("faults", kind="webhook_tampered")
    paypal.subscribe_standard()  # two IPNs
    assert len(received(paypal, listener, "/ipn")) == 2
    assert all(m.fault == "" for m in sim.outbox.messages)
    rest_checkout(paypal)
    assert [m.fault for m in sim.outbox.messages if m.kind == "webhook"] == [
        "webhook_drop",
        "webhook_tampered",
        "",
    ]


def test_ipn_drop_spares_webhooks(paypal, listener, sim):
    """Does ipn_drop wait past webhooks and drop only the next IPN?"""
    paypal.control("faults", kind="ipn_drop")
    rest_checkout(paypal)  # three webhooks, no IPN
    assert len(received(paypal, listener)) == 3
    paypal.subscribe_standard()
    ipns = received(paypal, listener, "/ipn")
    assert [dict(parse_qsl(r.body.decode()))["txn_type"] for r in ipns] == ["subscr_payment"]
    dropped = next(m for m in sim.outbox.messages if m.state == "dropped")
    assert (dropped.kind, dropped.label, dropped.fault) == ("ipn", "subscr_signup", "ipn_drop")


def test_drop_still_takes_whatever_comes_next(paypal, listener, sim):
    """Is the old `drop` fault unchanged: a webhook can be the one it loses?"""
    paypal.control("faults", kind="drop")
    rest_checkout(paypal)
    assert sim.outbox.messages[0].state == "dropped"
    assert sim.outbox.messages[0].kind == "webhook"


@pytest.mark.parametrize(
    "kind",
    [
        "webhook_drop",
        "webhook_bad_signature",
        "webhook_wrong_webhook_id",
        "webhook_tampered",
        "webhook_foreign_cert",
        "ipn_drop",
    ],
)
def test_new_faults_are_accepted_with_a_count(paypal, sim, kind):
    """Are the new names queued like the old ones, `count` times?"""
    assert paypal.control("faults", kind=kind, count=2) == {"queued": kind}
    assert [f.kind for f in sim.outbox.faults] == [kind, kind]


def test_webhook_fault_goes_to_every_webhooks_copy_of_the_event(paypal, listener, sim):
    """With two webhooks, does a webhook_* fault hit both copies of the one next event,
    while the general `drop` still takes a single message?"""
    paypal.control("webhooks", id="WH-SECOND", url=f"{listener.url}/second")
    paypal.control("faults", kind="webhook_tampered")
    paypal.control("faults", kind="drop")
    rest_checkout(paypal, custom_id="both")
    copies = [(m.label, m.url.rsplit("/", 1)[1], m.fault) for m in sim.outbox.messages]
    assert copies[:4] == [
        ("BILLING.SUBSCRIPTION.CREATED", "webhook", "webhook_tampered"),
        ("BILLING.SUBSCRIPTION.CREATED", "second", "webhook_tampered"),
        ("BILLING.SUBSCRIPTION.ACTIVATED", "webhook", "drop"),
        ("BILLING.SUBSCRIPTION.ACTIVATED", "second", ""),
    ]
    paypal.deliver()
    created = [r for r in listener.received if b"SUBSCRIPTION.CREATED" in r.body]
    assert [json.loads(r.body)["resource"]["custom_id"] for r in created] == ["tampered-both"] * 2
    assert [r.path for r in created] == ["/webhook", "/second"]
