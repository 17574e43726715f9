"""The retry policy: the whole decision in one pure object, injectable into every client.

What is retried: connection failures, timeouts while connecting, and HTTP 408, 409, 429 and
5xx (and error frames naming those statuses, before any content). Never 400/401/403/404,
never a read timeout (the model may be generating), and never a stream that has already
delivered content (that would bill and print twice). Delays: the relay's
``retry-after-ms``, then ``Retry-After`` (seconds or an HTTP date), capped at 60 s;
otherwise exponential backoff with full jitter. No retry starts that would end past the
call's total deadline.

>>> policy = RetryPolicy(max_retries=1, rand=lambda: 0.5, clock=lambda: 0.0)
>>> from holysheep_relay import RateLimitError, BadRequestError
>>> policy.decide(0, RateLimitError("slow down", status_code=429))
0.25
>>> policy.decide(1, RateLimitError("slow down", status_code=429)) is None  # retries spent
True
>>> policy.decide(0, BadRequestError("bad", status_code=400)) is None
True
>>> policy.decide(0, RateLimitError("wait", status_code=429, retry_after=3.0), deadline=2.0)
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from .errors import RelayError

__all__ = [
    "MAX_RETRY_AFTER",
    "RETRYABLE_TRANSPORT",
    "RetryPolicy",
    "is_retryable_status",
    "parse_retry_after",
]

logger = logging.getLogger("holysheep_relay")

MAX_RETRY_AFTER = 60.0
RETRYABLE_STATUSES = frozenset({408, 409, 429})
# Transport failures after which a request cannot have been processed (or must be assumed
# lost before any reply): safe to retry. A read timeout is not: the model may be generating.
RETRYABLE_TRANSPORT: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
)


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
    """Whether and how long to wait before a retry; deterministic given ``rand`` and ``clock``.

    Pass one to any client (``retry_policy=``): it replaces ``max_retries``. Tests inject
    ``rand`` and ``clock`` (and the clients' ``sleep=``) instead of patching.
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = MAX_RETRY_AFTER
    rand: Callable[[], float] = field(default=random.random, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def decide(
        self,
        attempt: int,
        error: RelayError,
        cause: BaseException | None = None,
        deadline: float | None = None,
    ) -> float | None:
        """Seconds to wait before retry ``attempt + 1``, or None to give up and raise ``error``.

        ``cause`` is the transport exception behind ``error`` (None for a reply from the
        relay); ``deadline`` the call's total deadline on ``clock``.
        """
        if cause is not None:
            if not isinstance(cause, RETRYABLE_TRANSPORT):
                return None
            status = None
        elif error.status_code is None:
            return None
        else:
            status = error.status_code
        if not self.should_retry(attempt, status):
            return None
        delay = self.delay(attempt, getattr(error, "retry_after", None))
        if deadline is not None and self.clock() + delay >= deadline:
            return None
        logger.debug("retrying after %.2fs (attempt %d): %s", delay, attempt + 1, error)
        return delay

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
