"""Webhook check by PayPal's verify-webhook-signature API (docs/paypal.md §8)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from .webhook_signature import (
    AUTH_ALGO,
    CERT_URL,
    TRANSMISSION_ID,
    TRANSMISSION_SIG,
    TRANSMISSION_TIME,
    SignatureCheck,
    signature_headers,
)

VERIFY_PATH = "/v1/notifications/verify-webhook-signature"
#: (path, JSON body) -> parsed JSON answer; raises on transport errors and non-2xx.
PostJson = Callable[[str, dict[str, Any]], Mapping[str, Any]]


def verify_by_api(
    raw: bytes, headers: Mapping[str, str], webhook_id: str, post_json: PostJson
) -> SignatureCheck:
    """Ask PayPal; its answer is HTTP 200 either way, the body says SUCCESS or FAILURE."""
    found = signature_headers(headers)
    if isinstance(found, SignatureCheck):
        return found
    if not webhook_id:
        return SignatureCheck("retry", "webhook id is not configured (PAYPAL_WEBHOOK_ID)")
    try:
        event = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return SignatureCheck("invalid", "body is not JSON")
    if not isinstance(event, dict):
        return SignatureCheck("invalid", "body is not a JSON object")
    body = {
        "auth_algo": found[AUTH_ALGO],
        "cert_url": found[CERT_URL],
        "transmission_id": found[TRANSMISSION_ID],
        "transmission_sig": found[TRANSMISSION_SIG],
        "transmission_time": found[TRANSMISSION_TIME],
        "webhook_id": webhook_id,
        # PayPal re-serialises the event itself, so the parsed object is what it wants.
        "webhook_event": event,
    }
    try:
        answer = post_json(VERIFY_PATH, body)
    except Exception as e:  # whatever the client raises, PayPal did not say: ask again
        return SignatureCheck("retry", f"verify-webhook-signature: {e}"[:300])
    status = answer.get("verification_status") if isinstance(answer, Mapping) else None
    if status == "SUCCESS":
        return SignatureCheck("verified", "PayPal verify-webhook-signature: SUCCESS")
    if status == "FAILURE":
        return SignatureCheck("invalid", "PayPal verify-webhook-signature: FAILURE")
    return SignatureCheck("retry", f"verify-webhook-signature answered {str(answer)[:200]!r}")
