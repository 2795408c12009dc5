"""REST webhooks: event envelopes, and PayPal's signature scheme with the stand-in's own key.

Signature recipe (the one PayPal's SDKs verify): SHA256withRSA over
`transmission_id|transmission_time|webhook_id|crc32(raw body)`, base64 in
PAYPAL-TRANSMISSION-SIG, public certificate at PAYPAL-CERT-URL.
"""

from __future__ import annotations

import base64
import json
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from .formats import money, new_id, rfc3339
from .state import Subscription, Transaction

CERT_ID = "CERT-360caa42-fca2a594-sim0001"
# What the forging faults put in: a webhook id that was never registered, and a certificate
# host that is neither PayPal's nor the stand-in's (nothing listens; it must not be fetched).
FOREIGN_WEBHOOK_ID = "WH-SIM-FOREIGN"
FOREIGN_CERT_URL = "http://127.0.0.2:9/evil-cert.pem"


class Signer:
    """An RSA key and a self-signed certificate, made once per stand-in process."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.sim.paypal.com")]
        )
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            # Valid long before any test clock: the gateway checks a certificate at the
            # time the message was received, and tests run their clocks in the past.
            .not_valid_before(datetime(2000, 1, 1, tzinfo=UTC))
            .not_valid_after(now + timedelta(days=3650))
            .sign(self.key, hashes.SHA256())
        )
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def sign(self, message: bytes) -> str:
        return base64.b64encode(
            self.key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        ).decode()

    def verify(self, message: bytes, signature_b64: str) -> bool:
        key = self.cert.public_key()
        # The certificate is built in __init__ from our own RSA key, so this always holds.
        if not isinstance(key, rsa.RSAPublicKey):
            raise TypeError(f"webhook certificate holds a {type(key).__name__}, not an RSA key")
        try:
            key.verify(
                base64.b64decode(signature_b64, validate=True),
                message,
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            return True
        except (InvalidSignature, ValueError):
            return False


def signed_message(
    transmission_id: str, transmission_time: str, webhook_id: str, body: bytes
) -> bytes:
    crc = zlib.crc32(body) & 0xFFFFFFFF
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{crc}".encode()


def headers_for(
    signer: Signer, base_url: str, webhook_id: str, body: bytes, at: datetime
) -> dict[str, str]:
    transmission_id = str(uuid.uuid4())
    transmission_time = rfc3339(at)
    return {
        "Content-Type": "application/json",
        "PAYPAL-TRANSMISSION-ID": transmission_id,
        "PAYPAL-TRANSMISSION-TIME": transmission_time,
        "PAYPAL-TRANSMISSION-SIG": signer.sign(
            signed_message(transmission_id, transmission_time, webhook_id, body)
        ),
        "PAYPAL-CERT-URL": f"{base_url}/v1/notifications/certs/{CERT_ID}",
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        "User-Agent": "PayPal/AUHD-214.0-58844035",
    }


def forge(
    kind: str, signer: Signer, base_url: str, webhook_id: str, body: bytes, at: datetime
) -> tuple[bytes, dict[str, str]]:
    """The (body, headers) of a webhook that must fail verification, as the fault `kind` says."""
    if kind == "webhook_wrong_webhook_id":
        return body, headers_for(signer, base_url, FOREIGN_WEBHOOK_ID, body, at)
    headers = headers_for(signer, base_url, webhook_id, body, at)
    if kind == "webhook_bad_signature":
        # Our own key and this transmission's id and time, but another body's CRC.
        headers["PAYPAL-TRANSMISSION-SIG"] = signer.sign(
            signed_message(
                headers["PAYPAL-TRANSMISSION-ID"],
                headers["PAYPAL-TRANSMISSION-TIME"],
                webhook_id,
                body + b" ",
            )
        )
    elif kind == "webhook_tampered":
        body = tampered(body)
    elif kind == "webhook_foreign_cert":
        headers["PAYPAL-CERT-URL"] = FOREIGN_CERT_URL
    else:
        raise ValueError(f"no webhook forgery {kind!r}")
    return body, headers


def tampered(body: bytes) -> bytes:
    """The event after signing, with a sale's amount (else a subscription's custom_id) edited."""
    event = json.loads(body)
    resource = event["resource"]
    amount = resource.get("amount")
    if isinstance(amount, dict) and "total" in amount:
        amount["total"] = "0.01" if amount["total"] != "0.01" else "1000.00"
        if isinstance(amount.get("details"), dict):
            amount["details"]["subtotal"] = amount["total"]
    else:
        resource["custom_id"] = "tampered-" + str(resource.get("custom_id", ""))
    return encode(event)


def envelope(
    event_type: str,
    resource_type: str,
    resource: dict[str, Any],
    summary: str,
    at: datetime,
    base_url: str,
) -> dict[str, Any]:
    event_id = new_id("WH-", 17)[:20] + "-" + new_id("", 17)
    return {
        "id": event_id,
        "event_version": "1.0",
        "create_time": rfc3339(at),
        "resource_type": resource_type,
        "resource_version": "2.0",
        "event_type": event_type,
        "summary": summary,
        "resource": resource,
        "links": [
            {
                "href": f"{base_url}/v1/notifications/webhooks-events/{event_id}",
                "rel": "self",
                "method": "GET",
            }
        ],
    }


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def sale_resource(txn: Transaction, sub: Subscription, base_url: str) -> dict[str, Any]:
    state = {
        "Completed": "completed",
        "Refunded": "refunded",
        "Reversed": "reversed",
        "Canceled_Reversal": "completed",
    }.get(txn.status, txn.status.lower())
    resource: dict[str, Any] = {
        "id": txn.id,
        "state": state,
        "amount": {
            "total": money(abs(txn.amount)),
            "currency": txn.currency,
            "details": {"subtotal": money(abs(txn.amount))},
        },
        "payment_mode": "INSTANT_TRANSFER",
        "protection_eligibility": "ELIGIBLE",
        "transaction_fee": {"value": money(txn.fee), "currency": txn.currency},
        "billing_agreement_id": sub.id,
        "custom": sub.custom,
        "create_time": rfc3339(txn.time),
        "update_time": rfc3339(txn.updated or txn.time),
        "links": [
            {
                "href": f"{base_url}/v1/payments/sale/{txn.parent_id or txn.id}",
                "rel": "self",
                "method": "GET",
            }
        ],
    }
    if txn.parent_id:
        resource["sale_id"] = txn.parent_id
        resource["parent_payment"] = txn.parent_id
    return resource
