"""The `csv` channel: rows of PayPal's own reports (an uploaded Activity CSV, or
Transaction Search) naming a payment we never heard of, stored by reconciliation.

No route takes such a message: only reconciliation stores one, from PayPal's answer over
TLS to the configured API host or from a file an admin uploaded, so it needs no further
proof. Every backfill is also flagged for that admin (gateway/reconciliation).
"""

from __future__ import annotations

from ..billing.formats.reported import interpret_reported
from ..billing.rules.interpretation import Interpretation
from .seam import Received, Verdict


class CsvChannel:
    def verify(self, received: Received) -> Verdict:
        return Verdict.verified()

    def interpret(self, received: Received) -> Interpretation:
        return interpret_reported(received.body, received.received_at)
