"""Offline check of a webhook's signature (docs/paypal.md §8): SHA256withRSA over
`transmission id|time|webhook id|crc32(raw body)`, with PayPal's certificate as of the
message's transmission time."""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .webhook_certs import CertRejected, CertSource, CertUnavailable

TRANSMISSION_ID = "PAYPAL-TRANSMISSION-ID"
TRANSMISSION_TIME = "PAYPAL-TRANSMISSION-TIME"
TRANSMISSION_SIG = "PAYPAL-TRANSMISSION-SIG"
CERT_URL = "PAYPAL-CERT-URL"
AUTH_ALGO = "PAYPAL-AUTH-ALGO"
SIGNATURE_HEADERS = (TRANSMISSION_ID, TRANSMISSION_TIME, TRANSMISSION_SIG, CERT_URL, AUTH_ALGO)


@dataclass(frozen=True)
class SignatureCheck:
    outcome: Literal["verified", "invalid", "retry"]
    #: A short sentence for the admin: why it was (not) accepted.
    detail: str


def signed_message(
    transmission_id: str, transmission_time: str, webhook_id: str, raw_body: bytes
) -> bytes:
    """What PayPal signs; the CRC32 is of the exact bytes received, as unsigned decimal."""
    crc = zlib.crc32(raw_body) & 0xFFFFFFFF
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{crc}".encode()


def signature_headers(headers: Mapping[str, str]) -> dict[str, str] | SignatureCheck:
    """The five PAYPAL-* headers by upper-case name, or an invalid check naming the missing."""
    by_name = {k.upper(): v.strip() for k, v in headers.items()}
    found = {name: by_name.get(name, "") for name in SIGNATURE_HEADERS}
    missing = [name for name, value in found.items() if not value]
    if missing:
        return SignatureCheck("invalid", f"missing header {', '.join(missing)}")
    return found


def transmission_time(text: str) -> datetime | None:
    """PAYPAL-TRANSMISSION-TIME (RFC 3339, "2015-05-18T15:45:13Z"), in UTC; None if unreadable."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def verify_offline(
    raw: bytes,
    headers: Mapping[str, str],
    webhook_id: str,
    received_at: datetime,
    certs: CertSource,
    max_skew: timedelta | None = None,
) -> SignatureCheck:
    """Check the signature with the certificate as it was when PayPal sent the message
    (PAYPAL-TRANSMISSION-TIME, which the signature covers): a re-check after the
    certificate expired gives the same answer as the first.

    Live traffic passes `max_skew`: a transmission time further than that from the
    receipt is refused, so an old signed message cannot pass for a new one. A replay of a
    stored message (received_at is not when PayPal sent it) passes None.
    """
    found = signature_headers(headers)
    if isinstance(found, SignatureCheck):
        return found
    if found[AUTH_ALGO].lower() != "sha256withrsa":
        return SignatureCheck(
            "invalid", f"auth algorithm {found[AUTH_ALGO][:40]!r} is not SHA256withRSA"
        )
    if not webhook_id:
        # Without our webhook id nothing can be verified; keep the message until it is set.
        return SignatureCheck("retry", "webhook id is not configured (PAYPAL_WEBHOOK_ID)")
    sent = transmission_time(found[TRANSMISSION_TIME])
    if sent is None:
        return SignatureCheck(
            "invalid", f"transmission time {found[TRANSMISSION_TIME][:40]!r} is not RFC 3339"
        )
    skew = _skew(sent, received_at, max_skew)
    if skew:
        return SignatureCheck("invalid", skew)
    try:
        signature = base64.b64decode(found[TRANSMISSION_SIG], validate=True)
    except binascii.Error:
        return SignatureCheck("invalid", "signature header is not base64")
    try:
        cert = certs.get(found[CERT_URL], sent)
    except CertRejected as e:
        return SignatureCheck("invalid", str(e))
    except CertUnavailable as e:
        return SignatureCheck("retry", str(e))
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return SignatureCheck("invalid", f"certificate holds a {type(key).__name__}, not RSA")
    message = signed_message(found[TRANSMISSION_ID], found[TRANSMISSION_TIME], webhook_id, raw)
    try:
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        # Offline, a wrong webhook id and a changed body look the same.
        return SignatureCheck(
            "invalid", "signature does not match the body, transmission headers and webhook id"
        )
    return SignatureCheck("verified", f"signature verified with {found[CERT_URL]}")


def _skew(sent: datetime, received_at: datetime, max_skew: timedelta | None) -> str:
    if max_skew is None:
        return ""
    received = received_at if received_at.tzinfo else received_at.replace(tzinfo=UTC)
    if abs(received - sent) <= max_skew:
        return ""
    return (
        f"transmission time {sent:%Y-%m-%d %H:%M:%S} UTC is more than "
        f"{max_skew} from the receipt at {received.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    )
