"""The `api` channel: what the gateway learnt by asking PayPal's API itself.

Nothing outside the gateway can store such a message (no route takes them): each is
written by our own code from PayPal's answer over TLS to the configured API host, so it
needs no further proof.
"""

from __future__ import annotations

from ..billing.formats.api_answers import interpret_api
from ..billing.rules.interpretation import Interpretation
from .seam import Received, Verdict


class ApiChannel:
    def verify(self, received: Received) -> Verdict:
        return Verdict.verified()

    def interpret(self, received: Received) -> Interpretation:
        return interpret_api(received.body, received.received_at)
