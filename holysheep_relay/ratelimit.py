"""Client-side request and token limits over sliding 60-second windows.

The guarantee (here and in :class:`~holysheep_relay.RedisRateLimiter`, which shares it across
processes and machines): **never more than the limit started in any 60-second window**, in
requests, and in tokens counting each call's estimate until its real usage reconciles it.
Relays count windows, so a token bucket's burst of twice the limit after an idle minute is
exactly what earns 429s; this limiter never allows it. Grants are first in, first out, and
each is held a ``margin`` (0.25 s) beyond the window, so requests that leave a little late
still land in distinct windows at the relay.

One limiter may be handed to any number of sync and async clients and adapter instances;
they then share one budget. A call reserves one request and its estimated tokens before it
is sent (waiting if the window is full); a retry reserves one more request; when the real
usage arrives the reservation is reconciled to it.

>>> clock = [0.0]
>>> limiter = RateLimiter(requests_per_minute=2, clock=lambda: clock[0])
>>> limiter.reserve().wait, limiter.reserve().wait   # seconds to wait: the window has room
(0.0, 0.0)
>>> limiter.reserve().wait                           # full: the third waits for the window
60.25
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ._window import SlidingLog
from .errors import ConfigurationError

__all__ = ["DEFAULT_MARGIN", "WINDOW", "Limiter", "RateLimiter", "Reservation"]

WINDOW = 60.0
DEFAULT_MARGIN = 0.25


@dataclass(frozen=True, slots=True)
class Reservation:
    """A granted reservation: ``wait`` seconds before sending; ``tokens`` as counted (an
    estimate above the limit counts as the limit); ``ref`` identifies the token grant for
    :meth:`Limiter.reconcile` (None when nothing needs reconciling)."""

    wait: float
    tokens: int = 0
    ref: Any = None


NO_RESERVATION = Reservation(0.0)


@runtime_checkable
class Limiter(Protocol):
    """What a client needs of a rate limiter (``RateLimiter``, ``RedisRateLimiter`` or yours)."""

    def reserve(self, tokens: int = 0) -> Reservation: ...

    async def areserve(self, tokens: int = 0) -> Reservation: ...

    def reconcile(self, reservation: Reservation, actual: int) -> None: ...

    async def areconcile(self, reservation: Reservation, actual: int) -> None: ...


def check_limits(
    requests_per_minute: float | None, tokens_per_minute: float | None, margin: float
) -> None:
    for name, value in (
        ("requests_per_minute", requests_per_minute),
        ("tokens_per_minute", tokens_per_minute),
    ):
        if value is not None and (isinstance(value, bool) or not value > 0):
            raise ConfigurationError(f"{name} must be a positive number or None, got {value!r}")
    if not margin >= 0:
        raise ConfigurationError(f"margin must be >= 0 seconds, got {margin!r}")


class RateLimiter:
    """Requests-per-minute and tokens-per-minute limits for this process's clients.

    >>> from holysheep_relay import RateLimiter, RelayClient
    >>> limiter = RateLimiter(requests_per_minute=60, tokens_per_minute=100_000)
    >>> client = RelayClient(api_key="hs_example_key_0123456789", rate_limiter=limiter)
    >>> client.close()
    """

    def __init__(
        self,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        *,
        margin: float = DEFAULT_MARGIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_limits(requests_per_minute, tokens_per_minute, margin)
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self._clock = clock
        span = WINDOW + margin
        self._requests = SlidingLog(requests_per_minute, span) if requests_per_minute else None
        self._tokens = SlidingLog(tokens_per_minute, span) if tokens_per_minute else None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"RateLimiter(requests_per_minute={self.requests_per_minute}, "
            f"tokens_per_minute={self.tokens_per_minute})"
        )

    def reserve(self, tokens: int = 0) -> Reservation:
        """Reserve one request and ``tokens`` (estimated); ``.wait`` is how long to wait."""
        requests, token_log = self._requests, self._tokens
        with self._lock:
            now = self._clock()
            floor = now
            for log in (requests, token_log):
                if log is not None:
                    log.trim(now)
                    last = log.last()
                    if last is not None and last > floor:
                        floor = last
            at = floor
            if requests is not None:
                at = requests.earliest(1, at)
            if token_log is not None and tokens:
                at = token_log.earliest(tokens, at)
            if requests is not None:
                requests.add(at, 1)
            ref = token_log.add(at, tokens) if token_log is not None and tokens else None
        return Reservation(at - now, 0 if ref is None else int(ref.weight), ref)

    async def areserve(self, tokens: int = 0) -> Reservation:
        return self.reserve(tokens)

    def reconcile(self, reservation: Reservation, actual: int) -> None:
        """Count ``reservation``'s token grant at the ``actual`` tokens the call used."""
        if reservation.ref is None or self._tokens is None or actual == reservation.tokens:
            return
        with self._lock:
            self._tokens.reweigh(reservation.ref, actual)

    async def areconcile(self, reservation: Reservation, actual: int) -> None:
        self.reconcile(reservation, actual)

    def acquire(self, tokens: int = 0) -> Reservation:
        """Reserve, and sleep until the reservation is due."""
        reservation = self.reserve(tokens)
        if reservation.wait > 0:
            time.sleep(reservation.wait)
        return reservation

    async def aacquire(self, tokens: int = 0) -> Reservation:
        reservation = self.reserve(tokens)
        if reservation.wait > 0:
            import asyncio  # on first use, keeping `import holysheep_relay` light

            await asyncio.sleep(reservation.wait)
        return reservation
