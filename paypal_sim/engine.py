"""What PayPal does: subscriptions start, renew on the clock, fail, cancel, refund, reverse,
and every change is announced by IPN (Standard) or signed webhook (REST).

`Sim` is assembled from one class per responsibility: `Signup` (signup.py) and `Lifecycle`
(lifecycle.py), both on top of `Renewals` (renewals.py), and `OneTime` (one_time.py: Buy Now
and Orders v2) on top of `MoneyBack` (money_back.py), all
sharing `Notices` (notices.py), which sends the messages and holds the engine's state.
"""

from __future__ import annotations

from . import webhooks as wh
from .clock import SimClock, add_period
from .delivery import Outbox
from .lifecycle import Lifecycle
from .one_time import OneTime
from .renewals import REST_RETRY, STANDARD_RETRY
from .signup import UNIT_OF, Signup
from .state import World

__all__ = ["Sim", "add_period", "STANDARD_RETRY", "REST_RETRY", "UNIT_OF"]


class Sim(Signup, Lifecycle, OneTime):
    """The stand-in's engine: a world, a clock, an outbox and a signing key."""

    def __init__(self, clock: SimClock, outbox: Outbox, signer: wh.Signer, base_url: str) -> None:
        self.world = World()
        self.clock, self.outbox, self.signer = clock, outbox, signer
        self.base_url = base_url.rstrip("/")
