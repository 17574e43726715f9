"""The retry policy, as pure functions plus one small policy object.

What is retried: connection failures, timeouts while connecting, and HTTP 408, 409, 429 and
5xx. Never 400/401/403/404, and never a stream that has already delivered content (that
would bill and print twice). Delays: the relay's ``retry-after-ms``, then ``Retry-After``
(seconds or an HTTP date), capped at 60 s; otherwise exponential backoff with full jitter.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "MAX_RETRY_AFTER",
    "RetryPolicy",
    "is_retryable_status",
    "parse_retry_after",
]

MAX_RETRY_AFTER = 60.0
RETRYABLE_STATUSES = frozenset({408, 409, 429})


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or status >= 500


def parse_retry_after(
    headers: Mapping[str, str], *, now: Callable[[], float] = time.time
) -> float | None:
    """Seconds the server asks us to wait, or None. ``headers`` must be case-insensitive."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, parsed.timestamp() - now())


@dataclass
class RetryPolicy:
    """How many times and how long to wait; ``delay`` is deterministic given ``rand``."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = MAX_RETRY_AFTER
    rand: Callable[[], float] = field(default=random.random, repr=False)

    def should_retry(self, attempt: int, status: int | None) -> bool:
        """``attempt`` counts retries already made; ``status`` None means a connect failure."""
        if attempt >= self.max_retries:
            return False
        return status is None or is_retryable_status(status)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        ceiling = min(self.initial_delay * (2**attempt), self.max_delay)
        return float(ceiling * self.rand())  # full jitter
