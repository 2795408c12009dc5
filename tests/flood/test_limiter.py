"""The token buckets alone (pure): refill, the overall bucket, memory bounded."""

from __future__ import annotations

from gateway.flood.limiter import Limiter, Rate, Refusal

from .conftest import Seconds


def test_tokens_come_back_at_the_rate_up_to_the_burst():
    clock = Seconds()
    limiter = Limiter(Rate(60, 2), Rate(0, 0), clock)
    assert [limiter.take("a") for _ in range(3)] == [None, None, Refusal("source", 1)]
    clock.advance(10)  # ten tokens' worth, but the bucket holds two
    assert [limiter.take("a") for _ in range(3)] == [None, None, Refusal("source", 1)]


def test_a_refusal_by_the_overall_limit_costs_the_sender_nothing():
    clock = Seconds()
    limiter = Limiter(Rate(6, 2), Rate(60, 1), clock)  # b: a token every 10 s
    assert limiter.take("a") is None
    assert limiter.take("b") == Refusal("everyone", 1)
    clock.advance(1)
    assert limiter.take("b") is None
    clock.advance(1)
    assert limiter.take("b") is None  # its second token: the refusal took none
    clock.advance(1)
    assert limiter.take("b") == Refusal("source", 8)


def test_memory_is_bounded_and_the_least_recent_sender_forgotten():
    clock = Seconds()
    limiter = Limiter(Rate(60, 1), Rate(0, 0), clock, max_senders=3)
    for key in "abc":
        assert limiter.take(key) is None
    assert limiter.take("a") is not None  # a is now the most recent
    assert limiter.take("d") is None  # b is forgotten
    assert len(limiter._buckets) == 3 and "b" not in limiter._buckets
    assert limiter.take("a") is not None and limiter.take("c") is not None


def test_a_share_never_goes_below_one_request_at_once():
    assert Rate(60, 2).share(4) == Rate(15, 1.0)
    assert Rate(60, 8).share(0) == Rate(60, 8)
