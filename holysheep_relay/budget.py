"""``SpendBudget``: a USD cap per day, month or lifetime, for one process or a whole fleet.

Before each call, the call's worst-case cost is reserved (an upper bound of its input
tokens x the input price, plus ``max_tokens`` (else the model's maximum output) x the
output price); the call is refused with :class:`BudgetExceededError` **before it is sent**
when the reservation does not fit. After the reply the reservation is settled to the real
cost. So the real costs of all calls, in every process sharing the budget, stay within
``usd``: each call was admitted only while the settled costs plus every reservation in
flight plus its own worst case fitted, and its real cost is at most its worst case.

With ``store`` a Redis URL or client, every process and machine using the same Redis and
``name`` shares one budget (an atomic Lua script: the check and the reservation are one
step). A call whose cost is unknown afterwards (no usage in the reply, a broken stream, a
timeout after sending) keeps its whole reservation as spent; a call the relay refused with
an HTTP error costs nothing.

>>> budget = SpendBudget(1.00, period=None)
>>> hold = budget.reserve("gpt-4.1", 0.40)
>>> budget.settle(hold, 0.10)            # the real cost
>>> round(budget.status().spent_usd, 2), round(budget.status().remaining_usd, 2)
(0.1, 0.9)
>>> budget.reserve("gpt-4.1", 0.95)
Traceback (most recent call last):
...
holysheep_relay.errors.BudgetExceededError: spend budget of $1.0000 (lifetime) would be ...
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from ._redis import RedisStore, StoreOutage, redis_errors
from ._redis import why as _why
from .errors import BudgetExceededError, ConfigurationError, StoreUnavailableError

__all__ = ["BudgetHold", "BudgetStatus", "SpendBudget"]

Period = Literal["day", "month"] | None
_NANO = 1_000_000_000  # amounts are kept in integer nano-USD: no float drift across workers

# KEYS[1]: the period's hash {c: committed (settled + held), h: held}; ARGV: cap, need, ttl
_RESERVE = """
local cap = tonumber(ARGV[1])
local need = tonumber(ARGV[2])
local c = tonumber(redis.call('HGET', KEYS[1], 'c') or '0')
local h = tonumber(redis.call('HGET', KEYS[1], 'h') or '0')
if c + need > cap then
  return {0, tostring(c), tostring(h)}
end
redis.call('HINCRBY', KEYS[1], 'c', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'h', ARGV[2])
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
return {1, tostring(c + need), tostring(h + need)}
"""

# KEYS[1]: the period's hash; ARGV: held amount, real amount (-1: unknown, keep it all)
_SETTLE = """
local held = tonumber(ARGV[1])
local real = tonumber(ARGV[2])
if real >= 0 then redis.call('HINCRBY', KEYS[1], 'c', real - held) end
redis.call('HINCRBY', KEYS[1], 'h', -held)
return 1
"""

_TTL = {"day": 3 * 86_400, "month": 63 * 86_400, None: 0}


@dataclass(frozen=True, slots=True)
class BudgetHold:
    """A reservation made by :meth:`SpendBudget.reserve`, settled once by ``settle``."""

    model: str
    nano: int
    period_key: str
    counted: bool = True
    """False when the store was unreachable and ``on_store_error="open"`` let it through."""

    @property
    def usd(self) -> float:
        return self.nano / _NANO


@dataclass(frozen=True)
class BudgetStatus:
    """Where a budget stands in its current period."""

    budget_usd: float
    spent_usd: float
    """Settled real costs, plus reservations kept whole (costs that stayed unknown)."""
    reserved_usd: float
    """Worst cases of the calls in flight."""
    period: str | None
    period_key: str
    resets_at: str | None

    @property
    def remaining_usd(self) -> float:
        return max(0.0, self.budget_usd - self.spent_usd - self.reserved_usd)


@dataclass(frozen=True, slots=True)
class _Period:
    """The current period: its name, when the next starts (ISO 8601), and its bounds."""

    key: str
    resets_at: str | None
    start: datetime | None = None
    end: datetime | None = None

    def holds(self, now: datetime) -> bool:
        return self.start is None or self.end is None or self.start <= now < self.end


_LIFETIME = _Period("lifetime", None)


def _period_of(period: Period, now: datetime) -> _Period:
    """The UTC day or month holding ``now`` (or the lifetime one)."""
    if period is None:
        return _LIFETIME
    if period == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        end = start + timedelta(days=1)
        key = start.strftime("%Y-%m-%d")
    else:
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        key = start.strftime("%Y-%m")
    return _Period(key, end.strftime("%Y-%m-%dT%H:%M:%SZ"), start, end)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class _MemoryTotals:
    """This process's totals: period key -> [committed, held] nano-USD."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._periods: dict[str, list[int]] = {}

    def reserve(self, key: str, cap: int, need: int) -> tuple[bool, int, int]:
        with self._lock:
            totals = self._periods.setdefault(key, [0, 0])
            if totals[0] + need > cap:
                return False, totals[0], totals[1]
            totals[0] += need
            totals[1] += need
            return True, totals[0], totals[1]

    def settle(self, key: str, held: int, real: int | None) -> None:
        with self._lock:
            totals = self._periods.setdefault(key, [0, 0])
            if real is not None:
                totals[0] += real - held
            totals[1] -= held

    def read(self, key: str) -> tuple[int, int]:
        with self._lock:
            committed, held = self._periods.get(key, (0, 0))
            return committed, held


class SpendBudget:
    """A USD cap on calls, checked before sending and settled to real costs.

    ``period``: ``"day"`` or ``"month"`` (UTC calendar periods) or ``None`` (a lifetime cap).
    ``store``: a Redis URL or client shared by a fleet (``None``: this process only).
    ``unknown_price``: ``"refuse"`` a model with no known price (give one with
    ``pricing={"model": {"input": ..., "output": ...}}``), or ``"allow"`` it uncounted.
    ``on_store_error``: when Redis is unreachable, ``"closed"`` refuses calls
    (:class:`StoreUnavailableError`), ``"open"`` sends them uncounted (one WARNING).

    >>> from holysheep_relay import RelayClient, SpendBudget
    >>> budget = SpendBudget(5.00, period="day")  # or store="redis://127.0.0.1:6379/0"
    >>> client = RelayClient(api_key="hs_example_key_0123456789", budget=budget)
    >>> client.close()
    """

    def __init__(
        self,
        usd: float,
        *,
        period: Period = "day",
        store: Any = None,
        name: str = "default",
        unknown_price: Literal["refuse", "allow"] = "refuse",
        on_store_error: Literal["open", "closed"] = "closed",
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if isinstance(usd, bool) or not isinstance(usd, (int, float)) or not usd >= 0:
            raise ConfigurationError(f"usd must be a non-negative number, got {usd!r}")
        if period not in ("day", "month", None):
            raise ConfigurationError(f"period must be 'day', 'month' or None, got {period!r}")
        if unknown_price not in ("refuse", "allow"):
            raise ConfigurationError(
                f"unknown_price must be 'refuse' or 'allow', got {unknown_price!r}"
            )
        if on_store_error not in ("open", "closed"):
            raise ConfigurationError(
                f"on_store_error must be 'open' or 'closed', got {on_store_error!r}"
            )
        self.usd = float(usd)
        self.period = period
        self.name = name
        self.unknown_price = unknown_price
        self.on_store_error = on_store_error
        self._cap = math.floor(self.usd * _NANO)
        self._clock = clock
        self._current: _Period | None = None
        self._store = None if store is None else RedisStore(store)
        self._memory = _MemoryTotals() if store is None else None
        if self._store is not None:
            self._reserve_script = self._store.script(_RESERVE)
            self._settle_script = self._store.script(_SETTLE)
            self._outage = StoreOutage(f"the spend budget {name!r} on {self._store.where}")

    def __repr__(self) -> str:
        where = "this process" if self._store is None else self._store.where
        return (
            f"SpendBudget(usd={self.usd}, period={self.period!r}, name={self.name!r}, "
            f"store={where!r})"
        )

    # -- the period ----------------------------------------------------------------------

    def _key(self) -> tuple[str, str | None]:
        """The current period's key and reset time (recomputed only when a period ends)."""
        now = self._clock()
        current = self._current
        if current is None or not current.holds(now):
            current = self._current = _period_of(self.period, now)
        return current.key, current.resets_at

    def _redis_key(self, period_key: str) -> str:
        return f"holysheep:{{{self.name}}}:budget:{period_key}"

    def _period_label(self, period_key: str) -> str:
        return "lifetime" if self.period is None else f"UTC {self.period} {period_key}"

    # -- reserve -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the Redis connections this object opened from a URL (also done when it is
        garbage-collected)."""
        if self._store is not None:
            self._store.close()

    def reserve(self, model: str, usd: float) -> BudgetHold:
        """Reserve ``usd`` (a call's worst case) for ``model``; BudgetExceededError if it
        does not fit, StoreUnavailableError if Redis is down and the policy is closed."""
        key, resets = self._key()
        need = math.ceil(usd * _NANO)
        if self._memory is not None:
            reply = self._memory.reserve(key, self._cap, need)
        else:
            try:
                reply = _reply(self._reserve_script.run([self._redis_key(key)], self._args(need)))
            except redis_errors() as exc:
                return self._store_failed(exc, model, key)
        return self._admitted(model, need, key, resets, reply)

    async def areserve(self, model: str, usd: float) -> BudgetHold:
        key, resets = self._key()
        need = math.ceil(usd * _NANO)
        if self._memory is not None:
            reply = self._memory.reserve(key, self._cap, need)
        else:
            try:
                script = self._reserve_script
                reply = _reply(await script.arun([self._redis_key(key)], self._args(need)))
            except redis_errors() as exc:
                return self._store_failed(exc, model, key)
        return self._admitted(model, need, key, resets, reply)

    def _args(self, need: int) -> list[Any]:
        return [self._cap, need, _TTL[self.period]]

    def _admitted(
        self, model: str, need: int, key: str, resets: str | None, reply: tuple[bool, int, int]
    ) -> BudgetHold:
        if self._store is not None:
            self._outage.recovered()
        ok, committed, _held = reply
        if ok:
            return BudgetHold(model, need, key)
        label = self._period_label(key)
        when = f"wait until {resets} (the next period), " if resets else ""
        raise BudgetExceededError(
            f"spend budget of ${self.usd:.4f} ({label}) would be exceeded: "
            f"${committed / _NANO:.4f} spent or reserved, this call to {model} needs up to "
            f"${need / _NANO:.4f}; {when}raise the budget, or lower max_tokens (the worst "
            "case counts every output token allowed)",
            budget_usd=self.usd,
            spent_usd=committed / _NANO,
            needed_usd=need / _NANO,
            period=self.period,
            resets_at=resets,
        )

    def _store_failed(self, exc: BaseException, model: str, key: str) -> BudgetHold:
        if self.on_store_error == "closed":
            raise StoreUnavailableError(
                f"{self._outage.what} is unreachable ({_why(exc)}); calls are refused "
                "while it is down because on_store_error='closed' (pass on_store_error='open' "
                "to send them uncounted instead)"
            ) from None
        self._outage.failed(exc, "calls are sent uncounted until it is back")
        return BudgetHold(model, 0, key, counted=False)

    # -- settle --------------------------------------------------------------------------

    def _settlement(self, hold: BudgetHold, usd: float | None) -> list[Any] | None:
        """Settle ``hold`` in memory (None), or the Lua arguments to settle it in Redis."""
        if not hold.counted:
            return None
        real = None if usd is None else math.ceil(usd * _NANO)
        if self._memory is not None:
            self._memory.settle(hold.period_key, hold.nano, real)
            return None
        return [hold.nano, -1 if real is None else real]

    def settle(self, hold: BudgetHold, usd: float | None) -> None:
        """Settle ``hold`` to the real cost ``usd`` (None: unknown, the hold stays spent)."""
        args = self._settlement(hold, usd)
        if args is not None:
            try:
                self._settle_script.run([self._redis_key(hold.period_key)], args)
            except redis_errors() as exc:
                self._outage.failed(exc, "a settled cost stays counted at its reservation")

    async def asettle(self, hold: BudgetHold, usd: float | None) -> None:
        args = self._settlement(hold, usd)
        if args is not None:
            try:
                await self._settle_script.arun([self._redis_key(hold.period_key)], args)
            except redis_errors() as exc:
                self._outage.failed(exc, "a settled cost stays counted at its reservation")

    # -- status --------------------------------------------------------------------------

    def status(self) -> BudgetStatus:
        """Spent and reserved in the current period (reads Redis when shared)."""
        key, resets = self._key()
        if self._memory is not None:
            committed, held = self._memory.read(key)
        else:
            try:
                raw = self._store.sync.hmget(self._redis_key(key), "c", "h")  # type: ignore[union-attr]
            except redis_errors() as exc:
                raise StoreUnavailableError(
                    f"{self._outage.what} is unreachable ({_why(exc)})"
                ) from None
            committed, held = (int(v or 0) for v in raw)
        return BudgetStatus(
            budget_usd=self.usd,
            spent_usd=(committed - held) / _NANO,
            reserved_usd=held / _NANO,
            period=self.period,
            period_key=key,
            resets_at=resets,
        )


def _reply(reply: Any) -> tuple[bool, int, int]:
    ok, committed, held = reply
    return bool(int(ok)), int(committed), int(held)
