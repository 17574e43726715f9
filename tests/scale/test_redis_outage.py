"""Redis killed (SIGKILL) and restarted while a fleet of worker processes is calling: the
configured policy holds, nothing crashes, no call is lost or sent twice, and everything
recovers without a restart of the workers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from holysheep_relay import SpendBudget
from holysheep_relay.testing import Emulator
from tests.redis_server import RedisServer, find_redis_server
from tests.scale.fleet import Call, arrivals, run_fleet

pytestmark = pytest.mark.slow


@pytest.fixture
def durable_redis(redis_binary: str) -> Iterator[RedisServer]:
    """A private redis-server with an fsync'ed append-only file: what a budget that must
    survive a Redis restart runs on (documented in docs/scale-out.md)."""
    assert find_redis_server() is not None
    server = RedisServer(
        redis_binary, extra_args=("--appendonly", "yes", "--appendfsync", "always")
    ).start()
    try:
        yield server
    finally:
        server.cleanup()


def _run_with_an_outage(
    emulator: Emulator, server: RedisServer, workers: list[dict[str, Any]]
) -> tuple[list[Call], float, float, float]:
    """Run the fleet; kill Redis once the relay has seen 30 calls, restart it 1.5 s later.
    Returns the calls, the budget's spend before the kill, and the kill and restart times."""
    result: list[list[Call]] = []
    thread = threading.Thread(
        target=lambda: result.append(run_fleet(emulator.base_url, server.url, workers))
    )
    thread.start()
    deadline = time.monotonic() + 120
    while emulator.attempts() < 30 and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.01)
    spent_before = SpendBudget(1e6, period=None, store=server.url, name="fleet").status()
    killed = time.time()
    server.kill()
    time.sleep(1.5)
    restarted = time.time()
    server.start()
    thread.join(timeout=300)
    assert result, "the fleet did not finish"
    return result[0], spent_before.spent_usd, killed, restarted


def _check_nothing_lost_or_sent_twice(emulator: Emulator, calls: list[Call]) -> None:
    sent = arrivals(emulator, "o")
    assert sorted(sent) == sorted(c.prompt for c in calls if c.outcome == "ok")
    assert all(len(times) == 1 for times in sent.values())


WORKERS = [
    {"tag": f"o-{kind}", "client": kind, "count": 100, "pause": 0.03, "rpm": 100_000}
    for kind in ("sync", "async", "langchain")
]


def test_budget_closed_refuses_during_the_outage_and_recovers(
    emulator: Emulator, durable_redis: RedisServer
) -> None:
    workers = [{**w, "budget": 1000.0} for w in WORKERS]
    calls, spent_before, killed, restarted = _run_with_an_outage(emulator, durable_redis, workers)

    assert len(calls) == 300  # every worker finished every call: nothing crashed
    outcomes = {c.outcome for c in calls}
    assert outcomes == {"ok", "StoreUnavailableError"}  # the closed policy held
    refused = [c for c in calls if c.outcome == "StoreUnavailableError"]
    assert all(killed <= c.at for c in refused)  # refused only once Redis was gone
    assert any(c.outcome == "ok" and c.at > restarted + 0.5 for c in calls)  # recovered
    for kind in ("sync", "async", "langchain"):
        assert any(c.outcome == "ok" and c.at > restarted for c in calls if kind in c.tag)
    _check_nothing_lost_or_sent_twice(emulator, calls)
    # the append-only file kept the spend across the crash; nothing was counted twice
    status = SpendBudget(1000.0, period=None, store=durable_redis.url, name="fleet").status()
    real = sum(c.cost or 0.0 for c in calls if c.outcome == "ok")
    counted = status.spent_usd + status.reserved_usd
    assert counted >= spent_before
    assert counted >= real - 1e-6
    # calls in flight at the kill keep their worst case (their settlement, or the reply
    # to their reservation, was lost): the excess over the real spend is a few worst cases
    assert counted - real < 3 * 0.1
    print(
        f"\noutage (budget closed): {len(calls)} calls, {len(refused)} refused while Redis "
        f"was down for {restarted - killed:.1f} s, {len(calls) - len(refused)} sent; spend "
        f"${status.spent_usd:.4f} + ${status.reserved_usd:.4f} held recorded for ${real:.4f} "
        "real"
    )


def test_budget_open_sends_uncounted_during_the_outage(
    emulator: Emulator, durable_redis: RedisServer
) -> None:
    workers = [{**w, "budget": 1000.0, "budget_policy": "open"} for w in WORKERS]
    calls, _, _, _ = _run_with_an_outage(emulator, durable_redis, workers)
    assert len(calls) == 300
    assert {c.outcome for c in calls} == {"ok"}  # the limiter and the budget both let them by
    _check_nothing_lost_or_sent_twice(emulator, calls)
