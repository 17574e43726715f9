"""RedisUsageLedger against a real redis-server: totals, processes, days, outages, secrets.

All but three tests talk to a redis-server subprocess (tests/redis_fixtures.py);
the outage tests crash one of their own with SIGKILL, and one puts a TCP relay between
the ledger and the server that swallows the server's replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timezone

import pytest
import redis

from holysheep_relay import ConfigurationError, RelayClient, StoreUnavailableError, UsageLedger
from holysheep_relay._redis import RedisStore
from holysheep_relay.redis_usage import RedisUsageLedger, describe_redis_error
from holysheep_relay.testing import Emulator
from holysheep_relay.usage import ModelTotals, UsageEvent
from holysheep_relay.wire import Usage
from tests.redis_server import RedisServer

PASSWORD = "pw-do-not-print-7f3a9c"


def event(
    model: str = "gpt-4.1",
    prompt: int = 10,
    completion: int = 5,
    cost: float | None = 0.001,
    *,
    usage: bool = True,
    cached: int = 0,
    reasoning: int = 0,
) -> UsageEvent:
    u = Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        cached_tokens=cached,
        reasoning_tokens=reasoning,
    )
    return UsageEvent(model, u if usage else None, cost, 12.0, "req_1")


MIXED = [
    event("gpt-4.1", 1200, 300, 0.0048, cached=200),
    event("gpt-4.1", 50, 7, 0.000156),
    event("claude-sonnet-4.5", 900, 1500, 0.0252, reasoning=400),
    event("gpt-5.4", 30, 40, None),  # no known price
    event("claude-sonnet-4.5", cost=None, usage=False),  # the relay sent no usage
    event("deepseek-v3.2", 10_000, 2_000, 0.0035),
]


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll ``condition`` (the ledger's writer works in a thread of its own)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not true within {timeout} s"
        time.sleep(0.01)


def same_totals(a: ModelTotals, b: ModelTotals) -> bool:
    """Equal counts, and USD equal to the float rounding of an in-memory sum."""
    left, right = dataclasses.asdict(a), dataclasses.asdict(b)
    return left.pop("cost_usd") == pytest.approx(right.pop("cost_usd"), abs=1e-9) and (
        left == right
    )


@pytest.fixture
def ledger(redis_url: str) -> Iterator[RedisUsageLedger]:
    with RedisUsageLedger(redis_url, name="test") as shared:
        yield shared


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "holysheep_relay" and r.levelno == logging.WARNING
    ]


# -- no server -------------------------------------------------------------------------


def test_bad_names_and_addresses_fail_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="without braces"):
        RedisUsageLedger("redis://127.0.0.1:6379/0", name="a{b}")
    with pytest.raises(ConfigurationError, match="without braces"):
        RedisUsageLedger("redis://127.0.0.1:6379/0", name="")
    with pytest.raises(ConfigurationError) as info:
        RedisUsageLedger(f"http://user:{PASSWORD}@127.0.0.1:6379")
    assert PASSWORD not in str(info.value)


def test_repr_and_where_name_the_server_without_its_password() -> None:
    ledger = RedisUsageLedger(f"redis://:{PASSWORD}@127.0.0.1:6379/2", name="api")
    assert repr(ledger) == "RedisUsageLedger(name='api', redis='127.0.0.1:6379/2')"
    assert ledger.where == "127.0.0.1:6379/2"
    ledger.close()


# -- totals ----------------------------------------------------------------------------


def test_totals_and_report_match_the_in_memory_ledger(ledger: RedisUsageLedger) -> None:
    memory = UsageLedger()
    for e in MIXED * 3:
        ledger(e)
        memory(e)
    by_model = ledger.by_model
    assert by_model.keys() == memory.by_model.keys()
    for model, totals in by_model.items():
        assert same_totals(totals, memory.by_model[model]), model
    assert same_totals(ledger.total, memory.total)
    assert ledger.report() == memory.report()
    assert ledger.pending == 0


def test_requests_without_usage_and_unknown_cost_are_counted(ledger: RedisUsageLedger) -> None:
    ledger(event("gpt-5.4", 30, 40, None))
    ledger(event("gpt-4.1", cost=None, usage=False))
    ledger(event("gpt-4.1", 10, 5, 0.25))
    total = ledger.total
    assert (total.requests, total.unpriced_requests, total.requests_without_usage) == (3, 2, 1)
    assert (total.prompt_tokens, total.completion_tokens, total.cost_usd) == (40, 45, 0.25)
    report = ledger.report()
    assert "0.250000+?" in report  # some requests had no price
    assert report.endswith("1 request(s) came back without usage: token and USD totals are low")


def test_usd_is_summed_in_nano_usd_without_float_drift(ledger: RedisUsageLedger) -> None:
    for _ in range(10):
        ledger(event(cost=0.1))
    assert sum([0.1] * 10) != 1.0  # what summing floats gives
    assert ledger.total.cost_usd == 1.0
    ledger(event(cost=0.4e-9))  # below a nano-USD: rounds to nothing, but is counted
    assert ledger.total.cost_usd == 1.0
    assert ledger.total.requests == 11


def test_ledgers_are_separated_by_name_and_reset_clears_one(redis_url: str) -> None:
    with (
        RedisUsageLedger(redis_url, name="a") as a,
        RedisUsageLedger(redis_url, name="b") as b,
        RedisUsageLedger(redis_url, name="a") as a_again,
    ):
        a(event(prompt=1, completion=1))
        b(event(prompt=100, completion=1))
        assert a.total.prompt_tokens == 1  # reading flushes this process's queue first
        a_again(event(prompt=10, completion=1))
        assert a_again.total.prompt_tokens == a.total.prompt_tokens == 11
        assert b.total.prompt_tokens == 100
        a.reset()
        assert a.total == ModelTotals()
        assert a.by_model == {}
        assert a.by_day == {}
        assert b.total.prompt_tokens == 100
    raw = redis.Redis.from_url(redis_url)
    assert sorted(k.decode() for k in raw.keys("holysheep:{b}:usage:*") if b"writer" not in k) == [
        "holysheep:{b}:usage:day:" + datetime.now(timezone.utc).date().isoformat(),
        "holysheep:{b}:usage:days",
        "holysheep:{b}:usage:models",
    ]
    raw.close()


def test_days_split_at_utc_midnight_by_the_time_of_the_call(redis_url: str) -> None:
    now = [datetime(2026, 1, 1, 23, 59, 59, tzinfo=timezone.utc).timestamp()]
    with RedisUsageLedger(redis_url, name="days", clock=lambda: now[0]) as ledger:
        ledger(event("gpt-4.1", 10, 1, 0.5))
        ledger(event("claude-sonnet-4.5", 20, 2, 0.25))
        now[0] += 1  # 2026-01-02T00:00:00Z
        ledger(event("gpt-4.1", 300, 3, 1.0))
        assert list(ledger.by_day) == ["2026-01-01", "2026-01-02"]
        first, second = ledger.by_day.values()
        assert (first.requests, first.prompt_tokens, first.cost_usd) == (2, 30, 0.75)
        assert (second.requests, second.prompt_tokens, second.cost_usd) == (1, 300, 1.0)
        jan1 = ledger.day(date(2026, 1, 1))
        assert {m: t.prompt_tokens for m, t in jan1.items()} == {
            "claude-sonnet-4.5": 20,
            "gpt-4.1": 10,
        }
        assert ledger.day("2026-01-02")["gpt-4.1"].completion_tokens == 3
        assert ledger.day("2026-01-03") == {}
        assert ledger.report("2026-01-02").splitlines()[1].split()[:4] == [
            "gpt-4.1",
            "1",
            "300",
            "3",
        ]
        assert ledger.total.requests == 3


def test_it_counts_what_a_relay_client_reports(
    ledger: RedisUsageLedger, emulator: Emulator
) -> None:
    messages = [{"role": "user", "content": "count my tokens please"}]
    with RelayClient(
        api_key="hs_fake_test_key_0123456789abcdef", base_url=emulator.base_url, on_usage=ledger
    ) as client:
        replies = [client.chat(model="gpt-4.1", messages=messages) for _ in range(2)]
        with client.stream_chat(model="gpt-4.1", messages=messages) as stream:
            for _ in stream:
                pass
    usages = [r.usage for r in replies] + [stream.result.usage]
    total = ledger.by_model["gpt-4.1"]
    assert total.requests == 3
    assert total.prompt_tokens == sum(u.prompt_tokens for u in usages if u)
    assert total.completion_tokens == sum(u.completion_tokens for u in usages if u)
    costs = [r.cost_usd for r in replies] + [stream.result.cost_usd]
    assert total.cost_usd == pytest.approx(sum(c for c in costs if c is not None), abs=1e-9)


def test_called_inside_an_event_loop_with_an_asyncio_client(redis_url: str) -> None:
    async def main() -> int:
        client = redis.asyncio.Redis.from_url(redis_url)
        ledger = RedisUsageLedger(client, name="loop")
        for _ in range(5):
            ledger(event(prompt=2, completion=1))  # queued: the loop is never held up
            await asyncio.sleep(0)
        await client.aclose()
        assert ledger.flush()
        requests = ledger.total.requests
        ledger.close()
        return requests

    assert asyncio.run(main()) == 5


# -- processes -------------------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import sys
    from holysheep_relay.redis_usage import RedisUsageLedger
    from holysheep_relay.usage import UsageEvent
    from holysheep_relay.wire import Usage

    url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ledger = RedisUsageLedger(url, name="procs")
    for i in range(count):
        usage = Usage(prompt_tokens=i, completion_tokens=1, total_tokens=i + 1)
        ledger(UsageEvent("shared-model", usage, 0.000001, 1.0, None))
        ledger(UsageEvent(name, usage, None, 1.0, None))
    # no flush(): the atexit hook writes what is still queued, even for a ledger dropped
    if name == "worker-b":
        del ledger
    """
)


def test_two_processes_add_up_exactly(redis_url: str) -> None:
    count = 400
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, redis_url, name, str(count)])
        for name in ("worker-a", "worker-b")
    ]
    assert [w.wait(timeout=60) for w in workers] == [0, 0]
    with RedisUsageLedger(redis_url, name="procs") as ledger:
        by_model = ledger.by_model
    per_worker = sum(range(count))
    shared = by_model["shared-model"]
    assert (shared.requests, shared.prompt_tokens) == (2 * count, 2 * per_worker)
    assert shared.cost_usd == 2 * count * 1_000 / 1_000_000_000  # exact: summed in nano-USD
    for name in ("worker-a", "worker-b"):
        own = by_model[name]
        assert (own.requests, own.prompt_tokens, own.unpriced_requests) == (
            count,
            per_worker,
            count,
        )


FORKER = textwrap.dedent(
    """
    import os, sys
    from holysheep_relay.redis_usage import RedisUsageLedger
    from holysheep_relay.usage import UsageEvent

    ledger = RedisUsageLedger(sys.argv[1], name="fork")
    # Hold the writer back so that the parent's events are still queued at the fork (and
    # the child inherits a held lock).
    ledger._writer.attempt_lock.acquire()
    for _ in range(3):
        ledger(UsageEvent("parent", None, None, 1.0, None))
    pid = os.fork()
    if pid == 0:
        ledger(UsageEvent("child", None, None, 1.0, None))
        ledger(UsageEvent("child", None, None, 1.0, None))
        os._exit(0 if ledger.flush(10) and ledger.pending == 0 else 1)
    _, status = os.waitpid(pid, 0)
    ledger._writer.attempt_lock.release()
    sys.exit(os.waitstatus_to_exitcode(status) or (0 if ledger.flush(10) else 2))
    """
)


def test_a_forked_child_writes_its_own_events_not_its_parents(redis_url: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", FORKER, redis_url],
        timeout=60,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    with RedisUsageLedger(redis_url, name="fork") as ledger:
        assert {m: t.requests for m, t in ledger.by_model.items()} == {"child": 2, "parent": 3}


# -- outages ---------------------------------------------------------------------------


def test_redis_crash_keeps_events_and_writes_them_once_it_is_back(
    fresh_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="holysheep_relay")
    with RedisUsageLedger(fresh_redis_server.url, name="crash") as ledger:
        ledger(event())
        assert ledger.flush()
        fresh_redis_server.kill()  # no persistence: that first event is gone with it

        for i in range(20):
            assert ledger(event(prompt=i, completion=1, cost=0.01)) is None
        assert ledger.pending == 20  # queued, none written, the callers not held up
        wait_until(lambda: ledger._writer.failures >= 3)  # retried, with a backoff
        assert not ledger.flush(timeout=0.2)
        assert ledger.pending == 20
        (warning,) = warnings_of(caplog)  # one per outage, not one per event or attempt
        assert f"cannot write to Redis at {ledger.where}" in warning
        assert "pending, kept in memory and written when Redis is back" in warning

        fresh_redis_server.start()
        assert ledger.flush()
        assert ledger.pending == 0
        total = ledger.total
        assert (total.requests, total.prompt_tokens, total.completion_tokens) == (
            20,
            sum(range(20)),
            20,
        )
        assert total.cost_usd == pytest.approx(0.2, abs=1e-12)
        assert any("is back; " in r.getMessage() for r in caplog.records)

        fresh_redis_server.kill()  # a second outage: a second warning
        ledger(event())
        wait_until(lambda: len(warnings_of(caplog)) == 2)
        fresh_redis_server.start()
        assert ledger.flush()
        assert ledger.total.requests == 1
    assert len(warnings_of(caplog)) == 2


class ReplyDropper:
    """A TCP relay to a real Redis that can swallow the server's replies while the server
    still runs the commands: a reply lost on the way back."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.dropping = False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                server = socket.create_connection(("127.0.0.1", self.upstream_port))
                self.sockets += [client, server]
                for args in ((client, server, False), (server, client, True)):
                    threading.Thread(target=self._pump, args=args, daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, replies: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if not (replies and self.dropping):
                    sink.sendall(data)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def test_a_write_whose_reply_was_lost_is_not_applied_twice(
    redis_server: RedisServer, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    relay = ReplyDropper(redis_server.port)
    store = RedisStore(f"redis://127.0.0.1:{relay.port}/0", socket_timeout=0.3)
    direct = redis.Redis.from_url(redis_url)
    try:
        with RedisUsageLedger(store, name="lost") as ledger:
            ledger(event())
            assert ledger.flush()  # the connection is open: the next write goes straight
            relay.dropping = True
            ledger(event())
            wait_until(lambda: ledger._writer.failures >= 1)
            # Redis ran the transaction; the ledger could not know
            assert direct.hget("holysheep:{lost}:usage:models", "requests:gpt-4.1") == b"2"
            assert ledger.pending == 1
            relay.dropping = False
            assert ledger.flush()
            assert ledger.total.requests == 2  # not 3: the marker said it was applied
            ledger(event())
            assert ledger.total.requests == 3
        assert len(warnings_of(caplog)) == 1
        store.sync.close()
    finally:
        direct.close()
        relay.close()


def test_the_password_never_reaches_repr_logs_or_errors(
    redis_binary: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with RedisServer(redis_binary, password=PASSWORD) as server:
        assert PASSWORD in server.url
        with RedisUsageLedger(server.url, name="secret") as ledger:
            ledger(event())
            assert ledger.total.requests == 1  # the password works
            assert PASSWORD not in repr(ledger)
            wrong = RedisUsageLedger(server.url.replace(PASSWORD, PASSWORD[::-1]), name="x")
            wrong(event())
            wait_until(lambda: wrong._writer.failures >= 1)
            assert not wrong.flush(timeout=0.1)
            wrong.close(timeout=0)
            server.kill()
            ledger(event())
            wait_until(lambda: ledger._writer.failures >= 1)
            with pytest.raises(StoreUnavailableError) as info:
                _ = ledger.total  # reads raise while Redis is down
            message = describe_redis_error(RedisStore(server.url), info.value)
            server.start()
    assert len(warnings_of(caplog)) >= 2  # the wrong password, the crash
    for text in (caplog.text, message, *warnings_of(caplog)):
        assert PASSWORD not in text
        assert PASSWORD[::-1] not in text


def test_describe_redis_error_blanks_the_password() -> None:
    store = RedisStore(f"redis://:{PASSWORD}@127.0.0.1:6379/0")
    exc = redis.AuthenticationError(f"bad password {PASSWORD}")
    assert describe_redis_error(store, exc) == "AuthenticationError: bad password ***"
    store.sync.close()


# -- the writer thread -----------------------------------------------------------------


def test_close_writes_stops_the_thread_and_the_ledger_starts_over(redis_url: str) -> None:
    ledger = RedisUsageLedger(redis_url, name="close")
    ledger(event())
    thread = ledger._writer.thread
    assert thread is not None
    ledger.close()
    assert not thread.is_alive()
    assert ledger._writer.thread is None
    assert ledger.pending == 0
    ledger(event())  # usable again: a new thread, a new connection
    assert ledger.total.requests == 2
    ledger.close()


def test_close_drops_what_cannot_be_written_with_a_warning(
    fresh_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = RedisUsageLedger(fresh_redis_server.url, name="drop")
    fresh_redis_server.stop()
    ledger(event())
    ledger(event())
    ledger.close(timeout=0.2)
    assert ledger.pending == 0
    assert "2 usage event(s) could not be written" in warnings_of(caplog)[-1]
