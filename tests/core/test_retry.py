"""Retry policy as a table: statuses, Retry-After forms, caps, jitter (no sleeping)."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from holysheep_relay import (
    RetryPolicy,
)
from holysheep_relay.retry import MAX_RETRY_AFTER, parse_retry_after


@pytest.mark.parametrize(
    ("status", "retry"),
    [
        (None, True),
        (408, True),
        (409, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (422, False),
    ],
)
def test_which_statuses_are_retried(status: int | None, retry: bool) -> None:
    assert RetryPolicy(max_retries=2).should_retry(0, status) is retry


def test_attempts_are_bounded_by_max_retries() -> None:
    policy = RetryPolicy(max_retries=2)
    assert [policy.should_retry(a, 503) for a in range(4)] == [True, True, False, False]
    assert RetryPolicy(max_retries=0).should_retry(0, 503) is False


NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # ms wins
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after": email.utils.formatdate(NOW + 30, usegmt=True)}, 30.0),
        ({"retry-after": email.utils.formatdate(NOW - 30, usegmt=True)}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after-ms": "x", "retry-after": "3"}, 3.0),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    got = parse_retry_after(httpx.Headers(headers), now=lambda: NOW)
    assert got == (pytest.approx(expected, abs=1.0) if expected is not None else None)


def test_retry_after_is_capped() -> None:
    policy = RetryPolicy()
    assert policy.delay(0, retry_after=3600) == MAX_RETRY_AFTER == 60.0
    assert policy.delay(0, retry_after=2) == 2


def test_backoff_is_exponential_with_full_jitter_and_a_cap() -> None:
    top = RetryPolicy(rand=lambda: 1.0)
    assert [top.delay(a) for a in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    bottom = RetryPolicy(rand=lambda: 0.0)
    assert bottom.delay(3) == 0.0
    half = RetryPolicy(rand=lambda: 0.5)
    assert half.delay(2) == 1.0
