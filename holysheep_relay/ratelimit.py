"""Client-side request and token budgets (token buckets), shareable between clients.

One ``RateLimiter`` may be handed to any number of sync and async clients (and adapter
instances); they then share one budget. A call reserves one request and its estimated tokens
before it is sent and waits if the budget is spent; when the real usage arrives, the
estimate is reconciled (unused tokens go back, overruns are charged).

>>> limiter = RateLimiter(requests_per_minute=60, tokens_per_minute=10_000)
>>> limiter.reserve(tokens=100, now=0.0)   # seconds to wait
0.0
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .errors import ConfigurationError

__all__ = ["RateLimiter", "TokenBucket"]


class TokenBucket:
    """A bucket of ``capacity`` units refilled at ``capacity`` per minute.

    Reservations may drive the level below zero; the caller then waits until it is back to
    zero. This queues concurrent callers fairly without polling.
    """

    __slots__ = ("capacity", "level", "rate", "updated")

    def __init__(self, per_minute: float, now: float) -> None:
        if per_minute <= 0:
            raise ConfigurationError(f"rate limits must be positive, got {per_minute!r}")
        self.capacity = float(per_minute)
        self.rate = self.capacity / 60.0
        self.level = self.capacity
        self.updated = now

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now

    def reserve(self, amount: float, now: float) -> float:
        self._refill(now)
        self.level -= min(amount, self.capacity)
        return 0.0 if self.level >= 0 else -self.level / self.rate

    def adjust(self, delta: float, now: float) -> None:
        """Give back (positive) or charge (negative) units after the fact."""
        self._refill(now)
        self.level = min(self.capacity, self.level + delta)


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
            wait = 0.0
            if self._requests is not None:
                wait = max(wait, self._requests.reserve(1, t))
            if self._tokens is not None and tokens:
                wait = max(wait, self._tokens.reserve(tokens, t))
            return wait

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
