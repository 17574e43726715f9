"""One Redis connection for the shared limiter, budget and ledger: sync and asyncio sides.

``RedisStore(redis)`` takes what users have: a URL, a ``redis.Redis`` or a
``redis.asyncio.Redis`` client. The other side is made from the same connection settings,
the asyncio one per event loop (an asyncio connection belongs to the loop that opened it).
Clients made here never hang: socket timeouts of ``socket_timeout`` seconds (default 2),
no client-side retries (the callers decide what an outage means), and redis-py reconnects
on the next command once the server is back. ``where`` names the server without its
password, for messages and logs.

redis-py is the ``redis`` extra: ``pip install 'holysheep-integrations[redis]'``.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

from ._loop_pools import LoopPools
from .errors import ConfigurationError

__all__ = [
    "DEFAULT_SOCKET_TIMEOUT",
    "RedisStore",
    "StoreOutage",
    "StoreScript",
    "redis_errors",
    "why",
]

logger = logging.getLogger("holysheep_relay")

DEFAULT_SOCKET_TIMEOUT = 2.0

# Connection settings shared by redis.Redis and redis.asyncio.Redis (the rest differ).
_SHARED_KWARGS = (
    "host",
    "port",
    "db",
    "username",
    "password",
    "path",
    "ssl",
    "ssl_keyfile",
    "ssl_certfile",
    "ssl_cert_reqs",
    "ssl_ca_certs",
    "client_name",
    "protocol",
)


def _import_redis() -> Any:
    try:
        import redis
        import redis.asyncio
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ConfigurationError(
            "Redis support needs redis-py: pip install 'holysheep-integrations[redis]'"
        ) from None
    return redis


def redis_errors() -> tuple[type[BaseException], ...]:
    """What an unreachable, restarting or timed-out Redis raises."""
    redis = _import_redis()
    return (redis.exceptions.RedisError, OSError)


def why(exc: BaseException) -> str:
    """``exc`` for a message: its class, and Redis's own words (never a password) unless it
    is a bare connection failure."""
    text = str(exc).strip()
    if not text or isinstance(exc, OSError) or "Connection refused" in text:
        return type(exc).__name__
    return f"{type(exc).__name__}: {text[:200]}"


class StoreOutage:
    """One WARNING when ``what`` becomes unreachable, one INFO when it is back: a fleet
    of calls during an outage does not flood the log."""

    __slots__ = ("_down", "what")

    def __init__(self, what: str) -> None:
        self.what = what
        self._down = False

    def failed(self, exc: BaseException, consequence: str) -> None:
        if not self._down:
            self._down = True
            logger.warning("%s is unreachable (%s); %s", self.what, type(exc).__name__, consequence)

    def recovered(self) -> None:
        if self._down:
            self._down = False
            logger.info("%s is reachable again", self.what)


async def _aclose(client: Any) -> None:
    await client.aclose()


class RedisStore:
    """A Redis server reached synchronously (``.sync``) and from any event loop (``aclient``)."""

    def __init__(self, target: Any, *, socket_timeout: float = DEFAULT_SOCKET_TIMEOUT) -> None:
        redis = _import_redis()
        self._timeout = socket_timeout
        self._lock = threading.Lock()
        async_seed: Any = None
        if isinstance(target, str):
            if not target.startswith(("redis://", "rediss://", "unix://")):
                raise ConfigurationError(
                    "the Redis address must be a redis://, rediss:// or unix:// URL "
                    f"(e.g. redis://127.0.0.1:6379/0), got {_describe_url(target)!r}"
                )
            self.sync = redis.Redis.from_url(target, **self._own_kwargs(redis))
        elif isinstance(target, redis.asyncio.Redis):
            async_seed = target
            self.sync = redis.Redis(**self._derived(redis, target), **self._own_kwargs(redis))
        elif isinstance(target, redis.Redis):
            self.sync = target
        else:
            raise ConfigurationError(
                "redis must be a redis:// URL, a redis.Redis or a redis.asyncio.Redis client, "
                f"got {type(target).__name__}"
            )
        self._redis = redis
        self._pools: LoopPools[Any] = LoopPools(async_seed, self._new_async, _aclose)
        if self.sync is not target:  # ours: its sockets close when the store goes away
            self._finalizer = weakref.finalize(self, self.sync.connection_pool.disconnect)
        kwargs = self.sync.connection_pool.connection_kwargs
        if kwargs.get("path"):
            self.where = f"unix:{kwargs['path']}"
        else:
            self.where = f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
        self.where += f"/{kwargs.get('db', 0)}"

    def _own_kwargs(self, redis: Any) -> dict[str, Any]:
        return {
            "socket_timeout": self._timeout,
            "socket_connect_timeout": self._timeout,
            "retry": redis.retry.Retry(redis.backoff.NoBackoff(), 0),
        }

    @staticmethod
    def _derived(redis: Any, client: Any) -> dict[str, Any]:
        kwargs = client.connection_pool.connection_kwargs
        shared = {k: kwargs[k] for k in _SHARED_KWARGS if k in kwargs}
        if "path" in shared:
            shared.pop("host", None)
            shared.pop("port", None)
        return shared

    def _new_async(self) -> Any:
        redis = self._redis
        shared = self._derived(redis, self.sync)
        if "path" in shared:
            path = shared.pop("path")
            pool = redis.asyncio.ConnectionPool(
                connection_class=redis.asyncio.UnixDomainSocketConnection,
                path=path,
                **shared,
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
            )
            return redis.asyncio.Redis(
                connection_pool=pool, retry=redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 0)
            )
        return redis.asyncio.Redis(
            **shared,
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
            retry=redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 0),
        )

    async def aclient(self) -> Any:
        """The running loop's asyncio client (closed by that loop's shutdown)."""
        return await self._pools.current()

    def script(self, lua: str) -> StoreScript:
        """``lua`` as a script runnable on both sides (EVALSHA; reloaded after a restart)."""
        return StoreScript(self, lua)

    def close(self) -> None:
        """Close the sync connections this store opened (a client you passed stays open;
        asyncio ones close with their event loop)."""
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None:
            finalizer()

    def __repr__(self) -> str:
        return f"RedisStore({self.where!r})"


class StoreScript:
    """A Lua script of a :class:`RedisStore`: ``run`` (sync) and ``arun`` (running loop)."""

    __slots__ = ("_async", "_store", "_sync")

    def __init__(self, store: RedisStore, lua: str) -> None:
        self._store = store
        self._sync = store.sync.register_script(lua)
        self._async: Any = None

    def run(self, keys: list[str], args: list[Any]) -> Any:
        return self._sync(keys=keys, args=args)

    async def arun(self, keys: list[str], args: list[Any]) -> Any:
        client = await self._store.aclient()
        if self._async is None:
            self._async = client.register_script(self._sync.script)
        return await self._async(keys=keys, args=args, client=client)


def _describe_url(url: str) -> str:
    """``url`` with any password replaced, for error messages."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user + ':' if user else ''}***@{host}"
