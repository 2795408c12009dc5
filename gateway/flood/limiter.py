"""Token buckets, one per sender and one for every sender outside PayPal's ranges together,
kept in this process (pure: no Flask, no database).

Per process, with the number of web processes factored in: each process allows
`1/processes` of the site-wide rate and burst, so all of them together never allow more
than the site-wide figures, whichever process each request reaches. A sender whose
requests all reach one process gets that process's share only: stricter, never looser
(nobody but PayPal has a reason to post here). Shared counts in the database would cost
every POST a second round trip (bench/README.md, "Flood"); these cost a dict lookup.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

#: Senders remembered per process; beyond it the least recently seen is forgotten (the
#: overall bucket still bounds what very many senders can do together).
MAX_SENDERS = 10_000
#: The key of the bucket every limited sender shares.
EVERYONE = "*"


@dataclass(frozen=True)
class Rate:
    """`per_minute` site-wide, `burst` at once; 0 per minute: no limit."""

    per_minute: float
    burst: float

    def share(self, processes: int) -> Rate:
        n = max(int(processes), 1)
        return Rate(self.per_minute / n, max(self.burst / n, 1.0))


@dataclass(frozen=True)
class Refusal:
    #: "source" (this sender is over its limit) or "everyone" (all senders together).
    limit: str
    #: Seconds until a request would be allowed again (Retry-After), at least 1.
    retry_after: int


class _Bucket:
    __slots__ = ("tokens", "at")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens, self.at = tokens, at


class Limiter:
    def __init__(
        self,
        per_source: Rate,
        everyone: Rate,
        clock: Callable[[], float] = time.monotonic,
        max_senders: int = MAX_SENDERS,
    ) -> None:
        self.per_source, self.everyone = per_source, everyone
        self.clock = clock
        self.max_senders = max_senders
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._everyone = _Bucket(everyone.burst, clock())
        self._lock = threading.Lock()

    def take(self, key: str) -> Refusal | None:
        """Count one request of sender `key`: None if allowed, else the refusal."""
        now = self.clock()
        with self._lock:
            bucket = None
            if self.per_source.per_minute > 0:
                bucket = self._bucket(key, now)
                wait = _take(bucket, self.per_source, now)
                if wait:
                    return Refusal("source", wait)
            if self.everyone.per_minute > 0:
                wait = _take(self._everyone, self.everyone, now)
                if wait:
                    if bucket is not None:
                        bucket.tokens += 1  # not this sender's fault: its token back
                    return Refusal("everyone", wait)
        return None

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.per_source.burst, now)
            if len(self._buckets) > self.max_senders:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket


def _take(bucket: _Bucket, rate: Rate, now: float) -> int:
    """0 and one token taken, or the whole seconds until a token is there."""
    per_second = rate.per_minute / 60
    bucket.tokens = min(rate.burst, bucket.tokens + (now - bucket.at) * per_second)
    bucket.at = now
    if bucket.tokens >= 1:
        bucket.tokens -= 1
        return 0
    return max(1, math.ceil((1 - bucket.tokens) / per_second))
