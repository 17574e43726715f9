"""One shared, pooled core client per configuration.

LlamaIndex creates LLM and embedding objects freely (``Settings``, per-query copies,
agents); each would otherwise open its own connection pool. Clients are cached by their
configuration: sync clients process-wide, async clients per running event loop (an
``httpx.AsyncClient`` must not cross loops; entries of closed loops are dropped). The cache
lives here, never in a serialisable field.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from holysheep_relay import AsyncRelayClient, Pricing, RateLimiter, RelayClient, Timeouts
from holysheep_relay.config import normalize_base_url, resolve_api_key
from holysheep_relay.usage import PriceLike, UsageCallback

__all__ = [
    "CLIENT_FIELDS",
    "ClientSpec",
    "async_client",
    "spec_from",
    "sync_client",
    "usage_callbacks",
]

_MAX_SYNC = 64
_lock = threading.Lock()
_sync: OrderedDict[ClientSpec, RelayClient] = OrderedDict()
_async: dict[asyncio.AbstractEventLoop, dict[ClientSpec, AsyncRelayClient]] = {}


@dataclass(frozen=True, eq=False)
class ClientSpec:
    """Everything that shapes a core client; equal specs share one client.

    Callables and objects without value equality (callbacks, rate limiters, pricing) are
    compared by identity.
    """

    api_key: SecretStr
    base_url: str
    timeout: float | Timeouts | None
    max_retries: int
    default_headers: tuple[tuple[str, str], ...]
    rate_limiter: RateLimiter | None
    on_usage: tuple[UsageCallback, ...]
    pricing: Pricing | Mapping[str, PriceLike] | None
    _identity: tuple[Any, ...] = field(init=False, repr=False)
    _hash: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        identity = (
            self.api_key.get_secret_value(),
            self.base_url,
            self.timeout,
            self.max_retries,
            self.default_headers,
            id(self.rate_limiter),
            tuple(id(cb) for cb in self.on_usage),
            id(self.pricing),
        )
        object.__setattr__(self, "_identity", identity)
        object.__setattr__(self, "_hash", hash(identity))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClientSpec) and self._identity == other._identity

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"ClientSpec(base_url={self.base_url!r}, max_retries={self.max_retries})"

    def kwargs(self) -> dict[str, Any]:
        return {
            "api_key": self.api_key,
            "base_url": self.base_url,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "default_headers": dict(self.default_headers),
            "rate_limiter": self.rate_limiter,
            "on_usage": list(self.on_usage),
            "pricing": self.pricing,
        }


CLIENT_FIELDS = frozenset({"api_key", "api_base", "timeout", "max_retries", "default_headers"})


def spec_from(
    owner: Any,
    rate_limiter: RateLimiter | None,
    on_usage: tuple[UsageCallback, ...],
    pricing: Pricing | Mapping[str, PriceLike] | None,
) -> ClientSpec:
    """The client spec of an LLM or embedding model (reads its ``CLIENT_FIELDS``)."""
    key = owner.api_key
    return ClientSpec(
        api_key=key if isinstance(key, SecretStr) else resolve_api_key(key),
        base_url=normalize_base_url(owner.api_base),
        timeout=owner.timeout,
        max_retries=owner.max_retries,
        default_headers=tuple(sorted((owner.default_headers or {}).items())),
        rate_limiter=rate_limiter,
        on_usage=on_usage,
        pricing=pricing,
    )


def usage_callbacks(on_usage: UsageCallback | Sequence[UsageCallback] | None) -> tuple[Any, ...]:
    if on_usage is None:
        return ()
    if callable(on_usage):
        return (on_usage,)
    return tuple(on_usage)


def sync_client(spec: ClientSpec) -> RelayClient:
    """The shared sync client for ``spec`` (created on first use)."""
    with _lock:
        client = _sync.get(spec)
        if client is None:
            client = _sync[spec] = RelayClient(**spec.kwargs())
            while len(_sync) > _MAX_SYNC:  # evicted clients stay alive while referenced
                _sync.popitem(last=False)
        else:
            _sync.move_to_end(spec)
        return client


def async_client(spec: ClientSpec) -> AsyncRelayClient:
    """The shared async client for ``spec`` on the running event loop."""
    loop = asyncio.get_running_loop()
    with _lock:
        per_loop = _async.get(loop)
        if per_loop is None:
            # A pooled connection references its loop, so entries of finished loops would
            # never be collected: drop them whenever a new loop shows up.
            for old in [old for old in _async if old.is_closed()]:
                del _async[old]
            per_loop = _async[loop] = {}
        client = per_loop.get(spec)
        if client is None:
            client = per_loop[spec] = AsyncRelayClient(**spec.kwargs())
        return client
