"""``RedisRateLimiter``: one sliding-window request and token budget for a whole fleet.

Every process and machine using the same Redis and ``name`` shares one budget, with the
guarantee of :class:`~holysheep_relay.RateLimiter`: never more than the limit started in
any 60-second window. The logs live in Redis (a sorted set of grant times and a hash of
weights per limit) and every update is one Lua script, so the check and the grant are one
atomic step on the server, timed by the server's own clock (``TIME``): machines whose
clocks disagree still share one timeline. The algorithm is :mod:`holysheep_relay._window`'s,
line for line.

When Redis is unreachable or times out (2 s socket timeouts), ``on_store_error="open"``
(the default) lets calls through unlimited with one WARNING (the relay's own 429s, which
the clients retry, still protect), ``"closed"`` refuses them with
:class:`StoreUnavailableError`. Either way the limiter recovers by itself once Redis is back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from ._redis import RedisStore, StoreOutage, redis_errors
from ._redis import why as _why
from .errors import ConfigurationError, StoreUnavailableError
from .ratelimit import DEFAULT_MARGIN, NO_RESERVATION, WINDOW, Reservation, check_limits

__all__ = ["RedisRateLimiter"]

# KEYS: requests (zset of grant times, hash of weights, total), the same for tokens, and the
# id sequence. ARGV: span (window + margin), now ("" = the server's TIME), requests per
# minute (0: none), tokens per minute (0: none), this call's estimated tokens.
_RESERVE = """
local span = tonumber(ARGV[1])
local now
if ARGV[2] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[2])
end
local rpm = tonumber(ARGV[3])
local tpm = tonumber(ARGV[4])
local tokens = tonumber(ARGV[5])

local function trim(z, h, n)
  local horizon = now - span
  while true do
    local old = redis.call('ZRANGEBYSCORE', z, '-inf', horizon, 'LIMIT', 0, 500)
    if #old == 0 then return end
    local ws = redis.call('HMGET', h, unpack(old))
    local gone = 0
    for i = 1, #ws do gone = gone + (tonumber(ws[i]) or 0) end
    redis.call('ZREM', z, unpack(old))
    redis.call('HDEL', h, unpack(old))
    if gone ~= 0 then redis.call('INCRBY', n, -gone) end  -- never "-0": not an integer
  end
end

local function last(z)
  local e = redis.call('ZRANGE', z, -1, -1, 'WITHSCORES')
  if #e == 0 then return nil end
  return tonumber(e[2])
end

local function earliest(z, h, n, limit, w, floor)
  if w > limit then w = limit end
  local need = tonumber(redis.call('GET', n) or '0') + w - limit
  if need <= 0 then return floor end
  local gone = 0
  local start = 0
  while true do
    local e = redis.call('ZRANGE', z, start, start + 199, 'WITHSCORES')
    if #e == 0 then break end
    local ids = {}
    for i = 1, #e, 2 do ids[#ids + 1] = e[i] end
    local ws = redis.call('HMGET', h, unpack(ids))
    for i = 1, #ids do
      gone = gone + (tonumber(ws[i]) or 0)
      if gone >= need then return math.max(floor, tonumber(e[2 * i]) + span) end
    end
    start = start + 200
  end
  return math.max(floor, (last(z) or floor) + span)
end

local floor = now
if rpm > 0 then
  trim(KEYS[1], KEYS[2], KEYS[3])
  local l = last(KEYS[1])
  if l and l > floor then floor = l end
end
if tpm > 0 then
  trim(KEYS[4], KEYS[5], KEYS[6])
  local l = last(KEYS[4])
  if l and l > floor then floor = l end
end
local at = floor
if rpm > 0 then at = earliest(KEYS[1], KEYS[2], KEYS[3], rpm, 1, at) end
if tpm > 0 and tokens > 0 then at = earliest(KEYS[4], KEYS[5], KEYS[6], tpm, tokens, at) end

local id = tostring(redis.call('INCR', KEYS[7]))
local ttl = math.ceil((at - now + span) * 1000) + 1000
local function add(first, w)
  redis.call('ZADD', KEYS[first], at, id)
  redis.call('HSET', KEYS[first + 1], id, w)
  redis.call('INCRBY', KEYS[first + 2], w)
  for k = first, first + 2 do redis.call('PEXPIRE', KEYS[k], ttl) end
end
if rpm > 0 then add(1, 1) end
local w = 0
if tpm > 0 and tokens > 0 then
  w = math.min(tokens, math.floor(tpm))
  add(4, w)
end
return {id, tostring(at - now), tostring(w)}
"""

# KEYS: the token log's hash of weights and total; ARGV: grant id, real tokens.
_RECONCILE = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local delta = tonumber(ARGV[2]) - tonumber(old)
if delta ~= 0 then redis.call('INCRBY', KEYS[2], delta) end
return 1
"""


class RedisRateLimiter:
    """Requests- and tokens-per-minute limits shared through Redis by every process.

    ``redis``: a ``redis://`` URL, a ``redis.Redis`` or a ``redis.asyncio.Redis`` client.
    Accepted as ``rate_limiter=`` wherever a :class:`RateLimiter` is.

    >>> from holysheep_relay import RedisRateLimiter, RelayClient
    >>> limiter = RedisRateLimiter("redis://127.0.0.1:6379/0", requests_per_minute=500,
    ...                            tokens_per_minute=200_000, name="prod")
    >>> client = RelayClient(api_key="hs_example_key_0123456789", rate_limiter=limiter)
    >>> client.close()
    """

    def __init__(
        self,
        redis: Any,
        *,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        name: str = "default",
        on_store_error: Literal["open", "closed"] = "open",
        margin: float = DEFAULT_MARGIN,
        clock: Callable[[], float] | None = None,
    ) -> None:
        check_limits(requests_per_minute, tokens_per_minute, margin)
        if on_store_error not in ("open", "closed"):
            raise ConfigurationError(
                f"on_store_error must be 'open' or 'closed', got {on_store_error!r}"
            )
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self.name = name
        self.on_store_error = on_store_error
        self._span = WINDOW + margin
        self._clock = clock  # None: the Redis server's clock (tests pass a fake)
        self._store = RedisStore(redis)
        self._reserve = self._store.script(_RESERVE)
        self._reconcile = self._store.script(_RECONCILE)
        prefix = f"holysheep:{{{name}}}:rl"
        self._keys = [
            *(f"{prefix}:requests:{part}" for part in ("times", "weights", "total")),
            *(f"{prefix}:tokens:{part}" for part in ("times", "weights", "total")),
            f"{prefix}:seq",
        ]
        self._outage = StoreOutage(f"the rate limiter {name!r} on {self._store.where}")

    def __repr__(self) -> str:
        return (
            f"RedisRateLimiter({self._store.where!r}, name={self.name!r}, "
            f"requests_per_minute={self.requests_per_minute}, "
            f"tokens_per_minute={self.tokens_per_minute})"
        )

    def _args(self, tokens: int) -> list[Any]:
        now = "" if self._clock is None else repr(self._clock())
        return [
            repr(self._span),
            now,
            self.requests_per_minute or 0,
            self.tokens_per_minute or 0,
            max(0, int(tokens)),
        ]

    def _granted(self, reply: Any) -> Reservation:
        self._outage.recovered()
        grant_id, wait, weight = (v.decode() if isinstance(v, bytes) else str(v) for v in reply)
        tokens = int(weight)
        return Reservation(max(0.0, float(wait)), tokens, grant_id if tokens else None)

    def _failed(self, exc: BaseException) -> Reservation:
        if self.on_store_error == "closed":
            raise StoreUnavailableError(
                f"{self._outage.what} is unreachable ({_why(exc)}); calls are refused "
                "while it is down because on_store_error='closed'"
            ) from None
        self._outage.failed(
            exc, "calls go unlimited until it is back (the relay's 429s still slow them down)"
        )
        return NO_RESERVATION

    def close(self) -> None:
        """Close the Redis connections this object opened from a URL (also done when it is
        garbage-collected)."""
        if self._store is not None:
            self._store.close()

    def reserve(self, tokens: int = 0) -> Reservation:
        """Reserve one request and ``tokens``; ``.wait`` is how long to wait before sending."""
        try:
            return self._granted(self._reserve.run(self._keys, self._args(tokens)))
        except redis_errors() as exc:
            return self._failed(exc)

    async def areserve(self, tokens: int = 0) -> Reservation:
        try:
            return self._granted(await self._reserve.arun(self._keys, self._args(tokens)))
        except redis_errors() as exc:
            return self._failed(exc)

    def _reconcile_args(self, reservation: Reservation, actual: int) -> list[Any] | None:
        if reservation.ref is None or actual == reservation.tokens:
            return None
        return [reservation.ref, max(0, int(actual))]

    def reconcile(self, reservation: Reservation, actual: int) -> None:
        """Count ``reservation``'s token grant at the ``actual`` tokens the call used."""
        args = self._reconcile_args(reservation, actual)
        if args is not None:
            try:
                self._reconcile.run(self._keys[4:6], args)
            except redis_errors() as exc:
                self._outage.failed(exc, "a call's estimate stays counted")

    async def areconcile(self, reservation: Reservation, actual: int) -> None:
        args = self._reconcile_args(reservation, actual)
        if args is not None:
            try:
                await self._reconcile.arun(self._keys[4:6], args)
            except redis_errors() as exc:
                self._outage.failed(exc, "a call's estimate stays counted")
