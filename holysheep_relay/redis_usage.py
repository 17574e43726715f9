"""Usage totals shared by every process and machine that writes to one Redis: the ledger.

:class:`RedisUsageLedger` is an ``on_usage`` callback like :class:`~.usage.UsageLedger`,
except that the totals live in Redis, so ten workers on three machines add up to one report
(``holysheep usage --redis URL`` prints it).

The callback runs on the request's hot path, maybe inside an event loop, so it never waits
for Redis: it queues the event and returns. A daemon thread (started on first use, and
again in a forked child) folds whatever is queued into one ``MULTI``/``EXEC`` of
``HINCRBY``s. If Redis is unreachable the folded totals stay in memory, one warning says
so, and the thread retries (50 ms, doubling to 1 s) until they are written: nothing is
lost while the process lives. Each write also records the writer's batch number, so a
write whose reply was lost is not applied twice. Reads flush this process's queue first;
an ``atexit`` hook flushes what is left (a process that ends with ``os._exit``, like a
forked ``multiprocessing`` worker, must call :meth:`RedisUsageLedger.flush` itself).

Keys, all with the Redis Cluster hash tag ``{<name>}``; fields are ``<metric>:<model>`` or
``<metric>:<YYYY-MM-DD>`` (UTC day), values integers (USD as nano-USD, ``cost_nusd``)::

    holysheep:{<name>}:usage:models          all time, per model
    holysheep:{<name>}:usage:days            per day, all models
    holysheep:{<name>}:usage:day:<date>      per model, that day
    holysheep:{<name>}:usage:writer:<id>     last batch a writer applied (expires in a day)
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import os
import threading
import time
import uuid
import weakref
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from ._redis import RedisStore, redis_errors
from .errors import ConfigurationError, StoreUnavailableError
from .usage import ModelTotals, UsageEvent, format_report

__all__ = ["RedisUsageLedger", "describe_redis_error"]

logger = logging.getLogger("holysheep_relay")

NANO_USD = 1_000_000_000
FLUSH_TIMEOUT = 5.0  # default for flush() and close()
READ_FLUSH_TIMEOUT = 2.0  # reads wait this long for this process's queue to be written
BACKOFF_FIRST, BACKOFF_MAX = 0.05, 1.0  # seconds between attempts while Redis is down
IDLE_EXIT = 30.0  # an idle writer thread exits after this; the next event starts one
MARKER_TTL = 86_400

_COUNTS = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "unpriced_requests",
    "requests_without_usage",
)
_COST = "cost_nusd"

Batch = Counter[tuple[str, str]]  # (hash key, field) -> increment


def describe_redis_error(store: RedisStore, exc: BaseException) -> str:
    """``exc`` as ``Type: message``, with the server's password (if any) blanked out."""
    text = f"{type(exc).__name__}: {exc}"
    password = store.sync.connection_pool.connection_kwargs.get("password")
    return text.replace(str(password), "***") if password else text


def _increments(event: UsageEvent) -> dict[str, int]:
    """What ``event`` adds to a :class:`ModelTotals` (as in ``ModelTotals.add``)."""
    inc = {"requests": 1}
    u = event.usage
    if u is None:
        inc["requests_without_usage"] = 1
    else:
        inc["prompt_tokens"] = u.prompt_tokens
        inc["completion_tokens"] = u.completion_tokens
        inc["total_tokens"] = u.total_tokens
        inc["cached_tokens"] = u.cached_tokens
        inc["reasoning_tokens"] = u.reasoning_tokens
    if event.cost_usd is None:
        inc["unpriced_requests"] = 1
    else:
        inc[_COST] = round(event.cost_usd * NANO_USD)
    return {k: v for k, v in inc.items() if v}


def _utc_day(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _counts(raw: Mapping[Any, Any]) -> dict[str, Counter[str]]:
    """A hash of ``<metric>:<key>`` fields as {key: {metric: value}}."""
    out: dict[str, Counter[str]] = {}
    for field, value in raw.items():
        metric, sep, key = _text(field).partition(":")
        if sep:
            out.setdefault(key, Counter())[metric] += int(value)
    return out


def _totals(counts: Mapping[str, int]) -> ModelTotals:
    totals = ModelTotals(**{name: counts.get(name, 0) for name in _COUNTS})
    totals.cost_usd = counts.get(_COST, 0) / NANO_USD
    return totals


def _sum(counts: Mapping[str, Counter[str]]) -> ModelTotals:
    return _totals(sum(counts.values(), Counter()))


class _Keys:
    __slots__ = ("days", "models", "prefix")

    def __init__(self, name: str) -> None:
        self.prefix = f"holysheep:{{{name}}}:usage:"
        self.models = self.prefix + "models"
        self.days = self.prefix + "days"

    def day(self, day: str) -> str:
        return f"{self.prefix}day:{day}"

    def writer(self, writer_id: str) -> str:
        return f"{self.prefix}writer:{writer_id}"

    def fold(self, batch: Batch, event: UsageEvent, timestamp: float) -> None:
        day = _utc_day(timestamp)
        for metric, n in _increments(event).items():
            batch[(self.models, f"{metric}:{event.model}")] += n
            batch[(self.days, f"{metric}:{day}")] += n
            batch[(self.day(day), f"{metric}:{event.model}")] += n


class _Writer:
    """One process's side of a ledger: the queue, the folded totals not yet in Redis, and
    the thread that writes them. A forked child makes its own (the parent's queue is the
    parent's to write)."""

    def __init__(self, store: RedisStore, keys: _Keys, label: str) -> None:
        self.store, self.keys, self.label = store, keys, label
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.done = threading.Condition(self.lock)
        self.wake = threading.Event()
        self.attempt_lock = threading.Lock()
        self.queue: list[tuple[UsageEvent, float]] = []
        self.enqueued = 0  # events queued so far; ``written`` of them are in Redis
        self.written = 0
        self.thread: threading.Thread | None = None
        self.stopping = False
        self.outage = False
        self.failures = 0  # failed write attempts
        self.id = uuid.uuid4().hex
        self.seq = 0  # the last batch this writer applied
        self.pending: Batch = Counter()  # folded, not sent yet
        self.pending_upto = 0
        self.batch: Batch = Counter()  # sent (maybe more than once), not known applied
        self.batch_upto = 0
        self.unsure = False  # the last send of ``batch`` failed: it may have been applied

    # -- the hot path -------------------------------------------------------------------

    def add(self, event: UsageEvent, timestamp: float) -> None:
        with self.lock:
            self.queue.append((event, timestamp))
            self.enqueued += 1
            if self.thread is None:
                self._start()
        if not self.outage:  # while Redis is down, the backoff decides when to retry
            self.wake.set()

    def _start(self) -> bool:
        """Start the thread (``lock`` held). False at interpreter shutdown."""
        thread = threading.Thread(target=self._run, name="holysheep-usage-redis", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # can't create new thread at interpreter shutdown
            return False
        self.thread = thread
        return True

    # -- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.0
        while True:
            woken = self.wake.wait(backoff or IDLE_EXIT)
            self.wake.clear()
            if self._should_exit(idle=not woken and not backoff):
                return
            before = self.written
            try:
                self.attempt()
            except Exception as exc:  # the thread must live on, whatever went wrong
                backoff = self._failed(exc, backoff)
                continue
            if self.outage:
                self.outage = False
                logger.info(
                    "usage ledger %r: Redis at %s is back; %d pending usage event(s) written",
                    self.label,
                    self.store.where,
                    self.written - before,
                )
            backoff = 0.0

    def _should_exit(self, *, idle: bool) -> bool:
        with self.lock:
            if (self.stopping or idle) and not self.queue:
                self.thread = None
                self.stopping = False
                return True
            self.stopping = False
            return False

    def _failed(self, exc: Exception, backoff: float) -> float:
        """Log the first failure of an outage (only that one); the next backoff."""
        self.failures += 1
        if not self.outage:
            self.outage = True
            unexpected = not isinstance(exc, redis_errors())
            logger.log(
                logging.ERROR if unexpected else logging.WARNING,
                "usage ledger %r: cannot write to Redis at %s (%s); %d usage event(s) pending, "
                "kept in memory and written when Redis is back",
                self.label,
                self.store.where,
                describe_redis_error(self.store, exc),
                self.enqueued - self.written,
                exc_info=exc if unexpected else None,
            )
        return min(max(backoff * 2, BACKOFF_FIRST), BACKOFF_MAX)

    def attempt(self) -> None:
        """Write everything queued so far in one transaction (raises if Redis fails)."""
        with self.attempt_lock:
            with self.lock:
                queue, self.queue = self.queue, []
                self.pending_upto = self.enqueued
            for event, timestamp in queue:
                self.keys.fold(self.pending, event, timestamp)
            sync = self.store.sync
            marker = self.keys.writer(self.id)
            if self.unsure:  # was the failed send applied after all?
                if _text(sync.get(marker) or b"0") == str(self.seq + 1):
                    self._applied()
                self.unsure = False
            self.batch.update(self.pending)
            self.batch_upto, self.pending = self.pending_upto, Counter()
            if not self.batch:
                return
            pipe = sync.pipeline(transaction=True)
            for (key, field), n in self.batch.items():
                pipe.hincrby(key, field, n)
            pipe.set(marker, self.seq + 1, ex=MARKER_TTL)
            self.unsure = True
            pipe.execute()
            self.unsure = False
            self._applied()

    def _applied(self) -> None:
        self.seq += 1
        self.batch = Counter()
        with self.lock:
            self.written = self.batch_upto
            self.done.notify_all()

    # -- callers ------------------------------------------------------------------------

    def flush(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.lock:
            target = self.enqueued
            if self.written >= target:
                return True
            running = self.thread is not None or self._start()
        if not running:
            return self._flush_inline(target, deadline)
        self.wake.set()
        with self.lock:
            return self.done.wait_for(
                lambda: self.written >= target, max(0.0, deadline - time.monotonic())
            )

    def _flush_inline(self, target: int, deadline: float) -> bool:
        """No thread can be started (interpreter shutdown): write from the caller."""
        backoff = BACKOFF_FIRST
        while True:
            try:
                self.attempt()
            except redis_errors():
                if time.monotonic() + backoff > deadline:
                    return self.written >= target
                time.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            return self.written >= target

    def stop(self, timeout: float) -> int:
        """Drop what is still unwritten and let the thread end; the number dropped."""
        with self.attempt_lock, self.lock:
            dropped = self.enqueued - self.written
            self.queue, self.pending, self.batch = [], Counter(), Counter()
            self.written = self.pending_upto = self.batch_upto = self.enqueued
            self.stopping = True
            thread = self.thread
            self.done.notify_all()
        self.wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        return dropped

    def flush_at_exit(self) -> None:
        if os.getpid() != self.pid:  # inherited by a forked child: the parent's to write
            return
        if not self.flush(FLUSH_TIMEOUT):
            with self.lock:
                unwritten = self.enqueued - self.written
            logger.warning(
                "usage ledger %r: %d usage event(s) not written to Redis at %s before exit",
                self.label,
                unwritten,
                self.store.where,
            )


class RedisUsageLedger:
    """An ``on_usage`` callback that totals usage in Redis, across processes and machines.

    Per model, per UTC day and overall: requests, tokens, USD (``cost_usd``), requests
    without a known price and requests that came back without usage, read like
    :class:`~holysheep_relay.UsageLedger` (``total``, ``by_model``, ``report()``) plus
    ``by_day`` and ``day(date)``. ``redis``: a ``redis://`` URL, a ``redis.Redis`` or a
    ``redis.asyncio.Redis``; ``name`` separates ledgers on one server. Calling the ledger
    never blocks or raises: events are written by a background thread, and kept while
    Redis is down (see the module docs). Reads block: they flush, then read Redis, and
    raise redis-py's errors if it is unreachable. ``clock``: seconds since the epoch that
    date an event (default ``time.time``).

    >>> ledger = RedisUsageLedger("redis://:s3cret@127.0.0.1:6379/0", name="api")
    >>> ledger
    RedisUsageLedger(name='api', redis='127.0.0.1:6379/0')
    >>> from holysheep_relay import RelayClient
    >>> client = RelayClient(on_usage=ledger)  # doctest: +SKIP
    >>> print(ledger.report())  # doctest: +SKIP
    model                             reqs   prompt   output        usd
    gpt-4.1                              2       24       16   0.000176
    TOTAL                                2       24       16   0.000176
    >>> ledger.close()
    """

    def __init__(
        self,
        redis: Any,
        *,
        name: str = "default",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(name, str) or not name or "{" in name or "}" in name:
            raise ConfigurationError(f"name must be a non-empty string without braces: {name!r}")
        self.name = name
        self._store = redis if isinstance(redis, RedisStore) else RedisStore(redis)
        # a client made here (from a URL or an asyncio client) is closed by close()
        self._owns_client = not isinstance(redis, RedisStore) and self._store.sync is not redis
        self._keys = _Keys(name)
        self._clock = clock
        self._pid = os.getpid()
        self._writer = _new_writer(self._store, self._keys, name)

    @property
    def where(self) -> str:
        """The server, as ``host:port/db`` (never with a password)."""
        return self._store.where

    def _current(self) -> _Writer:
        if os.getpid() != self._pid:  # a forked child: a writer (and thread) of its own
            self._pid = os.getpid()
            self._writer = _new_writer(self._store, self._keys, self.name)
        return self._writer

    def __call__(self, event: UsageEvent) -> None:
        try:
            self._current().add(event, self._clock())
        except Exception:  # never break the request that reported the usage
            logger.exception("usage ledger %r: could not queue a usage event", self.name)

    @property
    def pending(self) -> int:
        """Events this process has queued that are not in Redis yet."""
        writer = self._current()
        with writer.lock:
            return writer.enqueued - writer.written

    def flush(self, timeout: float = FLUSH_TIMEOUT) -> bool:
        """Wait until everything this process queued so far is in Redis; False if that did
        not happen within ``timeout`` seconds (the events stay queued)."""
        return self._current().flush(timeout)

    def _read(self, key: str) -> dict[str, Counter[str]]:
        self.flush(READ_FLUSH_TIMEOUT)
        try:
            return _counts(self._store.sync.hgetall(key))
        except redis_errors() as exc:
            raise StoreUnavailableError(
                f"cannot read usage from Redis at {self._store.where} "
                f"({describe_redis_error(self._store, exc)})"
            ) from None

    @property
    def by_model(self) -> dict[str, ModelTotals]:
        """All-time totals per model, from Redis."""
        return {m: _totals(c) for m, c in sorted(self._read(self._keys.models).items())}

    @property
    def total(self) -> ModelTotals:
        """All-time totals over every model, from Redis."""
        return _sum(self._read(self._keys.models))

    @property
    def by_day(self) -> dict[str, ModelTotals]:
        """Totals over every model per UTC day (``"YYYY-MM-DD"``), oldest first."""
        return {d: _totals(c) for d, c in sorted(self._read(self._keys.days).items())}

    def _day_key(self, day: dt.date | str) -> str:
        return self._keys.day(day.isoformat() if isinstance(day, dt.date) else day)

    def day(self, day: dt.date | str) -> dict[str, ModelTotals]:
        """Totals per model on one UTC day (a ``date`` or ``"YYYY-MM-DD"``)."""
        return {m: _totals(c) for m, c in sorted(self._read(self._day_key(day)).items())}

    def report(self, day: dt.date | str | None = None) -> str:
        """:meth:`UsageLedger.report`'s table for the totals in Redis: all time, or one UTC
        day's."""
        counts = self._read(self._keys.models if day is None else self._day_key(day))
        by_model = {m: _totals(c) for m, c in counts.items()}
        return format_report(by_model, _sum(counts))

    def reset(self) -> None:
        """Delete this ledger's totals (every process's), after writing this process's."""
        self.flush(READ_FLUSH_TIMEOUT)
        sync = self._store.sync
        days = _counts(sync.hgetall(self._keys.days))
        sync.delete(self._keys.models, self._keys.days, *(self._keys.day(d) for d in days))

    def close(self, timeout: float = FLUSH_TIMEOUT) -> None:
        """Write what is queued (up to ``timeout`` s), stop the thread, and disconnect a
        client made from a URL. Events that could not be written are dropped, with a
        warning. Calling the ledger again starts over."""
        if os.getpid() == self._pid:
            writer = self._writer
            writer.flush(timeout)
            dropped = writer.stop(timeout)
            if dropped:
                logger.warning(
                    "usage ledger %r: %d usage event(s) could not be written to Redis at %s "
                    "and were dropped",
                    self.name,
                    dropped,
                    self.where,
                )
        if self._owns_client:
            self._store.sync.close()

    def __enter__(self) -> RedisUsageLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RedisUsageLedger(name={self.name!r}, redis={self.where!r})"


# Every writer with events queued is alive (its thread holds it), ledger dropped or not.
_WRITERS: weakref.WeakSet[_Writer] = weakref.WeakSet()


def _new_writer(store: RedisStore, keys: _Keys, label: str) -> _Writer:
    writer = _Writer(store, keys, label)
    _WRITERS.add(writer)
    return writer


@atexit.register
def _flush_all_at_exit() -> None:
    for writer in list(_WRITERS):
        writer.flush_at_exit()
