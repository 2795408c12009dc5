"""A site whose door is easy to reach: small limits, PayPal at 173.0.80.0/20 only, and a
limiter clock the test moves (the limits count real seconds otherwise)."""

from __future__ import annotations

import pytest

from gateway.flood.guard import guard

PAYPAL = "173.0.81.140"  # inside 173.0.80.0/20, one of PayPal's published ranges
FLOODER = "203.0.113.5"
OTHER = "198.51.100.9"
FORM = "application/x-www-form-urlencoded"
#: Limits small enough to reach in a test: 3 at once, then one every 10 s, one process.
SMALL = {
    "INTAKE_PAYPAL_NETWORKS": ["173.0.80.0/20"],
    "INTAKE_SOURCE_PER_MINUTE": 6,
    "INTAKE_SOURCE_BURST": 3,
    "INTAKE_OTHERS_PER_MINUTE": 600,
    "INTAKE_OTHERS_BURST": 600,
    "INTAKE_WEB_PROCESSES": 1,
}


class Seconds:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.at = 1000.0

    def __call__(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds


@pytest.fixture
def seconds(app) -> Seconds:
    clock = Seconds()
    door = guard(app)
    door.limiter.clock = clock
    door.limiter._everyone.at = clock()  # its bucket was filled at construction
    door.refusals.clock = clock
    return clock


def post(
    client,
    sender: str,
    path: str = "/paypal/ipn",
    body: bytes = b"txn_type=x",
    environ: dict[str, str] | None = None,
):
    """POST `body` from `sender` (the connection's peer), with more of the WSGI environ."""
    environ_base = {"REMOTE_ADDR": sender} | (environ or {})
    return client.post(path, data=body, content_type=FORM, environ_base=environ_base)
