"""Client-side request and token budgets (token buckets), shareable between clients.

One ``RateLimiter`` may be handed to any number of sync and async clients (and adapter
instances); they then share one budget. A call reserves one request and its estimated tokens
before it is sent and waits if the budget is spent; when the real usage arrives, the
estimate is reconciled (unused tokens go back, overruns are charged).

>>> clock = [0.0]
>>> limiter = RateLimiter(requests_per_minute=2, clock=lambda: clock[0])
>>> limiter.reserve(), limiter.reserve()   # seconds to wait: the budget is there
(0.0, 0.0)
>>> limiter.reserve()                      # spent: the third waits for the refill
30.0
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .errors import ConfigurationError

__all__ = ["RateLimiter", "TokenBucket"]


class TokenBucket:
    """A bucket of ``capacity`` units refilled at ``capacity`` per minute.

    It is kept as the time it will be full again (``full_at``, GCRA's "theoretical arrival
    time"): ``amount`` units are due once the bucket holds them, and they are charged at
    the time they are granted. Concurrent callers queue fairly without polling, and when a
    limiter's other bucket is the slower one, this one still charges the real grant time:
    no interval ever sees more than ``capacity`` up front plus ``capacity`` per minute.
    """

    __slots__ = ("capacity", "full_at", "rate")

    def __init__(self, per_minute: float, now: float) -> None:
        if per_minute <= 0:
            raise ConfigurationError(f"rate limits must be positive, got {per_minute!r}")
        self.capacity = float(per_minute)
        self.rate = self.capacity / 60.0
        self.full_at = now

    def due(self, amount: float, now: float) -> float:
        """The earliest time (>= ``now``) at which the bucket holds ``amount`` units."""
        return max(now, self.full_at - (self.capacity - min(amount, self.capacity)) / self.rate)

    def take(self, amount: float, at: float) -> None:
        """Charge ``amount`` units granted at ``at`` (not before :meth:`due`)."""
        self.full_at = max(self.full_at, at) + min(amount, self.capacity) / self.rate

    def reserve(self, amount: float, now: float) -> float:
        """Take ``amount`` as soon as it is due; return how long to wait for it."""
        at = self.due(amount, now)
        self.take(amount, at)
        return at - now

    def adjust(self, delta: float, now: float) -> None:
        """Give back (positive) or charge (negative) units after the fact."""
        self.full_at = max(now, max(self.full_at, now) - delta / self.rate)


class RateLimiter:
    """Requests-per-minute and tokens-per-minute limits for sync and async clients."""

    def __init__(
        self,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        now = clock()
        self._requests = TokenBucket(requests_per_minute, now) if requests_per_minute else None
        self._tokens = TokenBucket(tokens_per_minute, now) if tokens_per_minute else None
        self._lock = threading.Lock()
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute

    def __repr__(self) -> str:
        return (
            f"RateLimiter(requests_per_minute={self.requests_per_minute}, "
            f"tokens_per_minute={self.tokens_per_minute})"
        )

    def reserve(self, tokens: int = 0, now: float | None = None) -> float:
        """Reserve one request and ``tokens``; return how long the caller must wait."""
        t = self._clock() if now is None else now
        with self._lock:
            charges = []
            if self._requests is not None:
                charges.append((self._requests, 1))
            if self._tokens is not None and tokens:
                charges.append((self._tokens, tokens))
            at = max((bucket.due(amount, t) for bucket, amount in charges), default=t)
            for bucket, amount in charges:  # both charged at the one real grant time
                bucket.take(amount, at)
            return at - t

    def acquire(self, tokens: int = 0) -> None:
        wait = self.reserve(tokens)
        if wait > 0:
            time.sleep(wait)

    async def aacquire(self, tokens: int = 0) -> None:
        wait = self.reserve(tokens)
        if wait > 0:
            import asyncio  # on first use, keeping `import holysheep_relay` light

            await asyncio.sleep(wait)

    def reconcile(self, estimated: int, actual: int) -> None:
        """Correct a reservation of ``estimated`` tokens once ``actual`` usage is known."""
        if self._tokens is None or estimated == actual:
            return
        with self._lock:
            self._tokens.adjust(estimated - actual, self._clock())
