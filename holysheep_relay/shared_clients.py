"""The process-wide cache of relay clients: one per configuration, for cheap, copied model objects.

(Connection pools live inside each client; see ``_loop_pools`` for the async ones.)

Adapters copy model objects freely; HTTP connection pools are not cheap. So a model keeps a
:class:`ClientSpec` and asks here for its client: one :class:`RelayClient` per configuration
for the process (closed at exit), and one :class:`AsyncRelayClient` per configuration *per
event loop* (an httpx async pool is bound to its loop), closed by that loop's own shutdown
(``asyncio.run`` / ``asyncio.Runner``). Specs share a client when their values are equal and
their rate limiter, usage callbacks and pricing are the *same objects* (the cache holds
them, so an id is never reused); the key enters the cache key only as a SHA-256 digest.
Numeric limits without a ``rate_limiter`` share one :class:`RateLimiter` per key, URL and
limits: one budget for every model using them.

>>> from holysheep_relay.shared_clients import ClientSpec, close_clients, sync_client
>>> def spec() -> ClientSpec:
...     return ClientSpec.build("hs_example_key_0123456789", None, requests_per_minute=60)
>>> sync_client(spec()) is sync_client(spec()), "hs_example" in repr(spec())
(True, False)
>>> close_clients()
"""

from __future__ import annotations

import atexit
import hashlib
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import cached_property
from types import BuiltinMethodType, MethodType
from typing import TypeVar

from pydantic import SecretStr
from typing_extensions import Unpack

from .budget import SpendBudget
from .client import AsyncRelayClient, RelayClient
from .config import RelayConfig
from .errors import ConfigurationError
from .options import ClientOptions
from .ratelimit import Limiter, RateLimiter
from .retry import RetryPolicy
from .usage import as_callbacks, as_pricing

__all__ = ["ClientSpec", "aclose_clients", "async_client", "close_clients", "sync_client"]


class _Same:
    """A cache-key part: compares an object by identity and keeps it alive while cached.

    Bound methods are made afresh on each access, so they compare by object and function.
    """

    __slots__ = ("ident", "obj")

    def __init__(self, obj: object) -> None:
        self.obj = obj
        self.ident: tuple[object, ...]
        if isinstance(obj, MethodType):
            self.ident = (id(obj.__self__), id(obj.__func__))
        elif isinstance(obj, BuiltinMethodType):
            self.ident = (id(obj.__self__), obj.__name__)
        else:
            self.ident = (id(obj),)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.ident == self.ident

    def __hash__(self) -> int:
        return hash(self.ident)


@dataclass(frozen=True, eq=False)
class ClientSpec:
    """A validated client configuration (use :meth:`build`); equal :attr:`key`, one client.

    Neither the key nor ``repr`` holds the secret (``repr`` shows ``SecretStr('**********')``).
    """

    config: RelayConfig
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    options: ClientOptions = field(default_factory=lambda: ClientOptions())

    @classmethod
    def build(
        cls,
        api_key: SecretStr | str | None,
        base_url: str | None = None,
        *,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        **options: Unpack[ClientOptions],
    ) -> ClientSpec:
        """Validate everything now: ``ConfigurationError`` before any I/O."""
        policy = options.get("retry_policy")
        config = RelayConfig.from_args(
            api_key,
            base_url,
            timeout=options.get("timeout"),
            max_retries=options.get("max_retries", 2) if policy is None else policy.max_retries,
            default_headers=options.get("default_headers"),
        )
        rate_limiter = options.get("rate_limiter")
        if rate_limiter is not None and not isinstance(rate_limiter, Limiter):
            raise ConfigurationError(
                "rate_limiter must be a RateLimiter or a RedisRateLimiter (anything with "
                f"reserve/areserve/reconcile/areconcile), got {rate_limiter!r}"
            )
        if rate_limiter is not None and (requests_per_minute or tokens_per_minute):
            raise ConfigurationError(
                "pass either rate_limiter=RateLimiter(...) or requests_per_minute / "
                "tokens_per_minute, not both"
            )
        budget = options.get("budget")
        if budget is not None and not isinstance(budget, SpendBudget):
            raise ConfigurationError(f"budget must be a SpendBudget, got {budget!r}")
        if policy is not None and not isinstance(policy, RetryPolicy):
            raise ConfigurationError(f"retry_policy must be a RetryPolicy, got {policy!r}")
        kept = ClientOptions(**{k: v for k, v in options.items() if v is not None})  # type: ignore[typeddict-item]
        kept["on_usage"] = as_callbacks(options.get("on_usage"))
        if options.get("pricing") is not None:
            as_pricing(options.get("pricing"))  # validates the table
        spec = cls(config, requests_per_minute, tokens_per_minute, kept)
        _limiter(spec)  # validates numeric limits (ConfigurationError when not positive)
        return spec

    @property
    def rate_limiter(self) -> Limiter | None:
        """The explicit ``rate_limiter`` (None when the spec uses per-minute numbers)."""
        return self.options.get("rate_limiter")

    @cached_property
    def key(self) -> tuple[Hashable, ...]:
        c = self.config
        o = self.options
        return (
            hashlib.sha256(c.api_key.get_secret_value().encode()).hexdigest(),
            c.base_url,
            c.timeouts,
            c.max_retries,
            tuple(sorted(c.default_headers.items())),
            self.requests_per_minute,
            self.tokens_per_minute,
            _Same(o.get("rate_limiter")),
            _Same(o.get("budget")),
            tuple(_Same(cb) for cb in o.get("on_usage") or ()),  # type: ignore[union-attr]
            _Same(o.get("pricing")),
            _Same(o.get("retry_policy")),
            _Same(o.get("sleep")),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClientSpec) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def client_options(self) -> ClientOptions:
        """The client's settings for this spec (the shared limiter resolved)."""
        c = self.config
        options = ClientOptions(**self.options)
        options["timeout"] = c.timeouts
        options["max_retries"] = c.max_retries
        options["default_headers"] = dict(c.default_headers)
        options["rate_limiter"] = _limiter(self)
        return options


_lock = threading.RLock()
_limiters: dict[tuple[Hashable, ...], RateLimiter] = {}  # by (key digest, URL, rpm, tpm)
_sync: dict[tuple[Hashable, ...], RelayClient] = {}
# One async client per spec too: the client keeps one connection pool per event loop itself
# (closed by that loop's shutdown), so it is safe across asyncio.run calls.
_async: dict[tuple[Hashable, ...], AsyncRelayClient] = {}


def _limiter(spec: ClientSpec) -> Limiter | None:
    """The explicit limiter, else the shared one for the spec's key, URL and limits."""
    explicit = spec.options.get("rate_limiter")
    if explicit is not None or not (spec.requests_per_minute or spec.tokens_per_minute):
        return explicit
    key = (*spec.key[:2], spec.requests_per_minute, spec.tokens_per_minute)
    limiter = _limiters.get(key)
    if limiter is None:
        created = RateLimiter(spec.requests_per_minute, spec.tokens_per_minute)
        with _lock:
            limiter = _limiters.setdefault(key, created)
    return limiter


C = TypeVar("C", RelayClient, AsyncRelayClient)


def _cached(cache: dict[tuple[Hashable, ...], C], make: Callable[..., C], spec: ClientSpec) -> C:
    client = cache.get(spec.key)
    if client is None:
        with _lock:
            client = cache.get(spec.key)
            if client is None:
                config = spec.config
                client = make(config.api_key, config.base_url, **spec.client_options())
                cache[spec.key] = client
    return client


def sync_client(spec: ClientSpec) -> RelayClient:
    """The process-wide client for ``spec`` (created on first use)."""
    return _cached(_sync, RelayClient, spec)


async def async_client(spec: ClientSpec) -> AsyncRelayClient:
    """The process-wide async client for ``spec`` (pools per event loop inside it)."""
    return _cached(_async, AsyncRelayClient, spec)


def close_clients() -> None:
    """Close the pooled sync clients; forget the async ones (their loops close their pools)."""
    with _lock:
        clients = list(_sync.values())
        _sync.clear()
        _async.clear()
    for client in clients:
        client.close()


async def aclose_clients() -> None:
    """Close the running loop's connection pools of every pooled async client."""
    with _lock:
        clients = list(_async.values())
    for client in clients:
        await client.aclose()


atexit.register(close_clients)
