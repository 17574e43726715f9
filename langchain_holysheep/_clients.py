"""One pooled relay client per configuration, shared by every model instance that uses it.

Model objects are cheap and LangChain copies them freely (``bind``, ``with_config``,
``model_copy``); HTTP connection pools are not. So a model keeps only a :class:`ClientSpec`
and asks this module for the client: one :class:`RelayClient` per configuration for the
process (closed at interpreter exit), and one :class:`AsyncRelayClient` per configuration
*per event loop* (an httpx async pool is bound to the loop that opened its connections, so
``asyncio.run`` twice must not reuse one); a loop closes its own async clients when it
shuts down (``asyncio.run`` / ``asyncio.Runner``), and entries of closed loops are dropped.

Shared clients get no ``on_usage`` callbacks: per-call usage plumbing lives in the adapters,
so one model's callbacks never fire for another model's requests.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import threading
import weakref
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import httpx
from pydantic import SecretStr

from holysheep_relay import AsyncRelayClient, RateLimiter, RelayClient, RelayConfig, Timeouts

__all__ = ["ClientSpec", "aclose_clients", "async_client", "close_clients", "sync_client"]


@dataclass(frozen=True)
class ClientSpec:
    """A validated client configuration and its cache key (the key never holds the secret)."""

    config: RelayConfig
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None

    @classmethod
    def build(
        cls,
        api_key: SecretStr | str | None,
        base_url: str | None,
        *,
        timeout: float | Timeouts | httpx.Timeout | None = None,
        max_retries: int = 2,
        default_headers: Mapping[str, str] | None = None,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
    ) -> ClientSpec:
        """Validate everything now (ConfigurationError before any I/O)."""
        config = RelayConfig.from_args(
            api_key,
            base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
        )
        spec = cls(config, requests_per_minute, tokens_per_minute)
        if requests_per_minute or tokens_per_minute:
            _limiter(spec)  # validates the limits (ConfigurationError when not positive)
        return spec

    @cached_property
    def key(self) -> tuple[Any, ...]:
        c = self.config
        digest = hashlib.sha256(c.api_key.get_secret_value().encode()).hexdigest()
        return (
            digest,
            c.base_url,
            c.timeouts,
            c.max_retries,
            tuple(sorted(c.default_headers.items())),
            self.requests_per_minute,
            self.tokens_per_minute,
        )

    @cached_property
    def limiter_key(self) -> tuple[Any, ...]:
        return (*self.key[:2], self.requests_per_minute, self.tokens_per_minute)

    def client_kwargs(self) -> dict[str, Any]:
        c = self.config
        return {
            "api_key": c.api_key,
            "base_url": c.base_url,
            "timeout": c.timeouts,
            "max_retries": c.max_retries,
            "default_headers": dict(c.default_headers),
            "rate_limiter": _limiter(self),
        }


_lock = threading.RLock()
# Limits belong to a key on a relay, not to one model object: models configured with the
# same key, URL and limits share one budget.
_limiters: dict[tuple[Any, ...], RateLimiter] = {}
_sync: dict[tuple[Any, ...], RelayClient] = {}
_async: dict[int, _LoopClients] = {}  # by id(loop); each entry checks it is still that loop


class _LoopClients:
    """The async clients of one event loop, closed by that loop's own shutdown.

    ``closer`` is an async generator parked at its ``yield``: ``asyncio.run`` (and
    ``asyncio.Runner``) call ``loop.shutdown_asyncgens()`` before closing the loop, which
    resumes it, and its ``finally`` closes the pools while the loop can still run them.
    """

    __slots__ = ("clients", "closer", "finished", "loop_ref")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop_ref = weakref.ref(loop)
        self.clients: dict[tuple[Any, ...], AsyncRelayClient] = {}
        self.finished = False
        self.closer = self._close_at_shutdown()

    def serves(self, loop: asyncio.AbstractEventLoop) -> bool:
        return not self.finished and self.loop_ref() is loop

    async def _close_at_shutdown(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            self.finished = True
            clients = list(self.clients.values())
            self.clients.clear()
            for client in clients:
                await client.aclose()


def _limiter(spec: ClientSpec) -> RateLimiter | None:
    if not (spec.requests_per_minute or spec.tokens_per_minute):
        return None
    key = spec.limiter_key
    limiter = _limiters.get(key)
    if limiter is None:
        created = RateLimiter(spec.requests_per_minute, spec.tokens_per_minute)
        with _lock:
            limiter = _limiters.setdefault(key, created)
    return limiter


def sync_client(spec: ClientSpec) -> RelayClient:
    """The process-wide client for ``spec`` (created on first use)."""
    key = spec.key
    client = _sync.get(key)
    if client is None:
        with _lock:
            client = _sync.get(key)
            if client is None:
                client = _sync[key] = RelayClient(**spec.client_kwargs())
    return client


async def async_client(spec: ClientSpec) -> AsyncRelayClient:
    """The client for ``spec`` on the running event loop."""
    loop = asyncio.get_running_loop()
    entry = _async.get(id(loop))
    if entry is None or not entry.serves(loop):
        with _lock:
            _purge_dead_loops()
            entry = _async[id(loop)] = _LoopClients(loop)
        await entry.closer.__anext__()  # park it: the loop now closes it at shutdown
    key = spec.key
    client = entry.clients.get(key)
    if client is None:
        client = entry.clients[key] = AsyncRelayClient(**spec.client_kwargs())
    return client


def _purge_dead_loops() -> None:
    """Forget entries of loops that are closed or gone."""
    for loop_id, entry in list(_async.items()):
        loop = entry.loop_ref()
        if entry.finished or loop is None or loop.is_closed():
            del _async[loop_id]


def close_clients() -> None:
    """Close every pooled sync client and forget every async one (new ones are made lazily).

    Forgotten async clients are closed on their own loop when it is still running.
    """
    with _lock:
        clients = list(_sync.values())
        _sync.clear()
        _async.clear()
    for client in clients:
        client.close()


async def aclose_clients() -> None:
    """Close the pooled async clients of the running loop."""
    entry = _async.pop(id(asyncio.get_running_loop()), None)
    if entry is not None:
        await entry.closer.aclose()


atexit.register(close_clients)
