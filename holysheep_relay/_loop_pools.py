"""One async pool (an ``httpx.AsyncClient``, a Redis client) per event loop, each closed by its
own loop's shutdown.

An async connection pool belongs to the loop that opened its connections: reusing it from
a second ``asyncio.run`` fails with "Event loop is closed" and leaks the old sockets. So an
:class:`AsyncRelayClient` that owns its pool keeps one per loop. The first loop to use it
gets the pool made at construction; each loop's pool is closed by that loop's own shutdown
(``asyncio.run`` and ``asyncio.Runner`` finalise async generators before closing the loop:
a generator parked at its ``yield`` closes the pool in its ``finally``).
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Generic, TypeVar

__all__ = ["LoopPools", "sleep"]


async def sleep(seconds: float) -> None:
    """``asyncio.sleep``, importing asyncio on first use (~20 ms off ``import holysheep_relay``)."""
    import asyncio

    await asyncio.sleep(seconds)


T = TypeVar("T")


class _LoopPool(Generic[T]):
    __slots__ = ("close", "closer", "finished", "http", "loop_ref")

    def __init__(self, loop: Any, http: T, close: Callable[[T], Awaitable[Any]]) -> None:
        self.loop_ref = weakref.ref(loop)
        self.http = http
        self.close = close
        self.finished = False
        self.closer = self._close_at_shutdown()

    def gone(self) -> bool:
        loop = self.loop_ref()
        return self.finished or loop is None or loop.is_closed()

    async def _close_at_shutdown(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            self.finished = True
            await self.close(self.http)


class LoopPools(Generic[T]):
    """The pools of one client: ``seed`` for the first loop, ``factory()`` for later ones,
    each closed with ``close(pool)``."""

    __slots__ = ("_close", "_factory", "_pools", "_seed")

    def __init__(
        self,
        seed: T | None,
        factory: Callable[[], T],
        close: Callable[[T], Awaitable[Any]],
    ) -> None:
        self._seed: T | None = seed
        self._factory = factory
        self._close = close
        self._pools: dict[int, _LoopPool[T]] = {}

    async def current(self) -> T:
        """The running loop's pool (made and registered for closing on first use)."""
        import asyncio

        loop = asyncio.get_running_loop()
        entry = self._pools.get(id(loop))
        if entry is not None and entry.loop_ref() is loop and not entry.finished:
            return entry.http
        for key, old in list(self._pools.items()):  # forget finished or closed loops
            if old.gone():
                self._pools.pop(key, None)
        if self._seed is not None:
            http, self._seed = self._seed, None
        else:
            http = self._factory()
        entry = self._pools[id(loop)] = _LoopPool(loop, http, self._close)
        await entry.closer.__anext__()  # park it: the loop now closes the pool at shutdown
        return http

    async def aclose(self) -> None:
        """Close the running loop's pool (and the seed if no loop used it yet)."""
        import asyncio

        if self._seed is not None:
            seed, self._seed = self._seed, None
            await self._close(seed)
        loop = asyncio.get_running_loop()
        entry = self._pools.pop(id(loop), None)
        if entry is not None and entry.loop_ref() is loop:
            # the pool only: the parked closer may be being closed by the loop's shutdown
            # right now (closing it twice raises); closing a pool twice is harmless
            entry.finished = True
            await self._close(entry.http)
