"""The IPN channel: verify by posting the exact bytes back, interpret with the pure parser."""

from __future__ import annotations

from typing import Protocol

from flask import current_app

from ..billing.formats.ipn import interpret_body
from ..billing.rules.interpretation import Interpretation
from ..paypal.postback import PostbackVerifier
from ..paypal.urls import endpoints
from .seam import Received, Verdict


class Verifier(Protocol):
    def verify(self, raw: bytes) -> str: ...


def ipn_verifier() -> Verifier:
    """The app's postback verifier (tests may put their own in app.extensions)."""
    app = current_app
    if "ipn_verifier" not in app.extensions:
        app.extensions["ipn_verifier"] = PostbackVerifier(
            endpoints(app.config)["postback"],
            float(app.config["PAYPAL_TIMEOUT"]),
            pool_size=int(app.config["INBOX_VERIFY_CONCURRENCY"]),
        )
    verifier: Verifier = app.extensions["ipn_verifier"]
    return verifier


class IpnChannel:
    """PayPal answers VERIFIED or INVALID for the exact bytes; anything else is retried."""

    def verify(self, received: Received) -> Verdict:
        answer = ipn_verifier().verify(received.body)
        if answer == "VERIFIED":
            return Verdict.verified()
        if answer == "INVALID":
            return Verdict.invalid()
        return Verdict.retry(answer)

    def interpret(self, received: Received) -> Interpretation:
        return interpret_body(received.body, received.received_at)
