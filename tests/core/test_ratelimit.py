"""Token buckets with a fake clock: request and token budgets, reconciliation, sharing."""

from __future__ import annotations

import asyncio

import pytest

from holysheep_relay import ConfigurationError, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_requests_per_minute_bucket() -> None:
    clock = Clock()
    limiter = RateLimiter(requests_per_minute=2, clock=clock)
    assert limiter.reserve() == 0.0
    assert limiter.reserve() == 0.0
    assert limiter.reserve() == pytest.approx(30.0)  # 1 request per 30 s refill
    assert limiter.reserve() == pytest.approx(60.0)  # queued behind the previous one
    clock.t = 120.0
    assert limiter.reserve() == 0.0


def test_tokens_per_minute_bucket_and_reconcile() -> None:
    clock = Clock()
    limiter = RateLimiter(tokens_per_minute=600, clock=clock)  # 10 tokens/s
    assert limiter.reserve(tokens=500) == 0.0
    assert limiter.reserve(tokens=200) == pytest.approx(10.0)  # 100 over budget
    limiter.reconcile(estimated=500, actual=100)  # 400 unused tokens come back
    assert limiter.reserve(tokens=100) == 0.0


def test_oversized_request_is_clamped_to_capacity() -> None:
    limiter = RateLimiter(tokens_per_minute=100, clock=Clock())
    assert limiter.reserve(tokens=10_000) == 0.0  # a full bucket covers it
    assert limiter.reserve(tokens=10_000) == pytest.approx(60.0)


def test_both_limits_wait_for_the_slower() -> None:
    limiter = RateLimiter(requests_per_minute=60, tokens_per_minute=60, clock=Clock())
    assert limiter.reserve(tokens=60) == 0.0
    assert limiter.reserve(tokens=30) == pytest.approx(30.0)


def test_invalid_limits() -> None:
    with pytest.raises(ConfigurationError):
        RateLimiter(requests_per_minute=-1)


def test_shared_limiter_across_sync_and_async_really_waits() -> None:
    limiter = RateLimiter(requests_per_minute=600)  # 10 per second, burst 600
    for _ in range(600):
        limiter.acquire()
    import time

    start = time.monotonic()
    asyncio.run(limiter.aacquire())
    limiter.acquire()
    assert time.monotonic() - start >= 0.15
