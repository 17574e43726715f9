"""RedisRateLimiter and a Redis SpendBudget in one process, on a real redis-server: the Lua
script is the in-memory algorithm exactly; outages fail open or closed, never hang, and
recover by themselves."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import threading

import pytest
import redis

from holysheep_relay import (
    AsyncRelayClient,
    ConfigurationError,
    RateLimiter,
    RedisRateLimiter,
    RelayClient,
    SpendBudget,
    StoreUnavailableError,
)
from holysheep_relay.testing import Emulator
from tests.emulator_fixtures import TEST_API_KEY
from tests.redis_server import RedisServer

MODEL = "gpt-4.1"
PRICING = {MODEL: {"input": 1000.0, "output": 1000.0}}
PROMPT = [{"role": "user", "content": "hello there"}]


class Clock:
    def __init__(self, t: float = 1_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize("seed", range(5))
def test_the_lua_script_grants_exactly_what_the_in_memory_limiter_grants(
    redis_url: str, seed: int
) -> None:
    rng = random.Random(seed)
    rpm, tpm = rng.randint(1, 6), rng.randint(50, 500)
    clock = Clock()
    shared = RedisRateLimiter(
        redis_url, requests_per_minute=rpm, tokens_per_minute=tpm, name=f"eq{seed}", clock=clock
    )
    local = RateLimiter(requests_per_minute=rpm, tokens_per_minute=tpm, clock=clock)
    waited = 0
    for _ in range(150):
        tokens = rng.choice([0, 10, 40, 90, 150, 700])
        a, b = shared.reserve(tokens), local.reserve(tokens)
        assert a.wait == pytest.approx(b.wait, abs=1e-6)
        assert a.tokens == b.tokens
        waited += a.wait > 0
        if rng.random() < 0.6:
            actual = rng.randint(0, 2 * tokens + 1)
            shared.reconcile(a, actual)
            local.reconcile(b, actual)
        clock.t += rng.choice([0.0, 0.5, 5.0, 30.0, 61.0])
    assert waited > 10  # the windows were really full, often


def test_threads_of_two_limiter_objects_share_one_budget(redis_url: str) -> None:
    """Two limiter objects (as in two processes) on one name: one window between them."""
    clock = Clock()
    limiters = [
        RedisRateLimiter(redis_url, requests_per_minute=30, name="shared", clock=clock)
        for _ in range(2)
    ]
    waits: list[float] = []
    lock = threading.Lock()

    def work(limiter: RedisRateLimiter) -> None:
        for _ in range(45):
            wait = limiter.reserve().wait
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=work, args=(limiter,)) for limiter in limiters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 90 requests at 30 per window, all at one instant: exactly 30 per window
    assert sorted(round(w, 6) for w in waits) == sorted(
        round((i // 30) * 60.25, 6) for i in range(90)
    )


def test_clients_wait_on_the_shared_window(emulator: Emulator, redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_url, requests_per_minute=2, name="clients")
    slept: list[float] = []
    with RelayClient(
        TEST_API_KEY, emulator.base_url, rate_limiter=limiter, sleep=slept.append
    ) as client:
        client.chat(model=MODEL, messages=PROMPT)
        client.chat(model=MODEL, messages=PROMPT)
        client.chat(model=MODEL, messages=PROMPT)  # the fake sleep returns at once
    assert len(slept) == 1
    assert 59.0 < slept[0] <= 60.25

    async def run() -> list[float]:
        waits: list[float] = []

        async def fake_sleep(seconds: float) -> None:
            waits.append(seconds)

        async with AsyncRelayClient(
            TEST_API_KEY, emulator.base_url, rate_limiter=limiter, sleep=fake_sleep
        ) as client:
            await client.chat(model=MODEL, messages=PROMPT)
        return waits

    assert asyncio.run(run())[0] > 59.0  # the async client queues behind the sync one


def test_tokens_are_reconciled_in_redis(emulator: Emulator, redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_url, tokens_per_minute=10_000, name="tok")
    with RelayClient(TEST_API_KEY, emulator.base_url, rate_limiter=limiter) as client:
        reply = client.chat(model=MODEL, messages=PROMPT, max_tokens=500)
    total = redis.Redis.from_url(redis_url).get("holysheep:{tok}:rl:tokens:total")
    assert total is not None
    assert int(total) == reply.usage.total_tokens  # the 500+ estimate became the real usage


# -- outages -------------------------------------------------------------------------------


def test_limiter_fails_open_with_one_warning_and_recovers(
    emulator: Emulator, fresh_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = RedisRateLimiter(fresh_redis_server.url, requests_per_minute=1, name="open")
    with RelayClient(TEST_API_KEY, emulator.base_url, rate_limiter=limiter) as client:
        client.chat(model=MODEL, messages=PROMPT)
        fresh_redis_server.kill()
        with caplog.at_level(logging.INFO, logger="holysheep_relay"):
            for _ in range(3):  # unlimited while Redis is down: the window is not consulted
                client.chat(model=MODEL, messages=PROMPT)
            warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) == 1
            assert "unreachable" in warnings[0].getMessage()
            assert "calls go unlimited" in warnings[0].getMessage()
            fresh_redis_server.start()
            assert limiter.reserve().wait == 0.0  # a fresh server: an empty window
            assert limiter.reserve().wait > 59.0  # limited again, no restart needed
            assert any("reachable again" in r.getMessage() for r in caplog.records)
    assert emulator.attempts() == 4


def test_limiter_closed_refuses_before_sending(
    emulator: Emulator, fresh_redis_server: RedisServer
) -> None:
    limiter = RedisRateLimiter(
        fresh_redis_server.url, requests_per_minute=10, name="closed", on_store_error="closed"
    )
    fresh_redis_server.kill()
    with (
        RelayClient(TEST_API_KEY, emulator.base_url, rate_limiter=limiter) as client,
        pytest.raises(StoreUnavailableError, match="on_store_error='closed'"),
    ):
        client.chat(model=MODEL, messages=PROMPT)
    assert emulator.attempts() == 0


def test_budget_fails_closed_by_default_and_open_on_request(
    emulator: Emulator, fresh_redis_server: RedisServer
) -> None:
    closed = SpendBudget(1.0, store=fresh_redis_server.url, name="b")
    opened = SpendBudget(1.0, store=fresh_redis_server.url, name="b", on_store_error="open")
    with RelayClient(TEST_API_KEY, emulator.base_url, budget=closed, pricing=PRICING) as a:
        a.chat(model=MODEL, messages=PROMPT, max_tokens=10)
        fresh_redis_server.kill()
        with pytest.raises(StoreUnavailableError, match="refused while it is down"):
            a.chat(model=MODEL, messages=PROMPT, max_tokens=10)
        assert emulator.attempts() == 1
        with RelayClient(TEST_API_KEY, emulator.base_url, budget=opened, pricing=PRICING) as b:
            b.chat(model=MODEL, messages=PROMPT, max_tokens=10)  # sent, uncounted
        assert emulator.attempts() == 2
        fresh_redis_server.start()
        a.chat(model=MODEL, messages=PROMPT, max_tokens=10)  # recovered, no restart
    assert emulator.attempts() == 3
    assert closed.status().spent_usd > 0


def test_a_hung_redis_times_out_instead_of_hanging(
    emulator: Emulator, fresh_redis_server: RedisServer
) -> None:
    """A server that accepts connections and never answers (SIGSTOP): the socket timeout
    ends the wait, the policy applies, and SIGCONT brings everything back."""
    assert fresh_redis_server.process is not None
    pid = fresh_redis_server.process.pid
    limiter = RedisRateLimiter(fresh_redis_server.url, requests_per_minute=100, name="hung")
    budget = SpendBudget(1.0, store=fresh_redis_server.url, name="hung")
    with RelayClient(
        TEST_API_KEY, emulator.base_url, rate_limiter=limiter, budget=budget, pricing=PRICING
    ) as client:
        client.chat(model=MODEL, messages=PROMPT, max_tokens=10)  # connections now open
        os.kill(pid, signal.SIGSTOP)
        try:
            with pytest.raises(StoreUnavailableError, match="TimeoutError"):
                client.chat(model=MODEL, messages=PROMPT, max_tokens=10)
            assert limiter.reserve().wait == 0.0  # the limiter fails open, after its timeout
        finally:
            os.kill(pid, signal.SIGCONT)
        client.chat(model=MODEL, messages=PROMPT, max_tokens=10)
    assert emulator.attempts() == 2


def test_redis_url_password_never_shows(fresh_redis_server: RedisServer) -> None:
    url = fresh_redis_server.url.replace("redis://", "redis://user:s3cret-pass@")
    limiter = RedisRateLimiter(url, requests_per_minute=5)
    budget = SpendBudget(1.0, store=url)
    fresh_redis_server.kill()
    texts = [repr(limiter), repr(budget)]
    with pytest.raises(StoreUnavailableError) as info:
        SpendBudget(1.0, store=url).reserve(MODEL, 0.1)
    texts.append(str(info.value))
    assert all("s3cret" not in text for text in texts)
    assert all(f"127.0.0.1:{fresh_redis_server.port}" in text for text in texts)


def test_clients_of_users_own_are_accepted(emulator: Emulator, redis_url: str) -> None:
    """A ``redis.Redis`` or ``redis.asyncio.Redis`` client instead of a URL; the other side
    is made from the same connection settings, and the client passed in is left open."""
    import redis.asyncio

    sync_given = redis.Redis.from_url(redis_url)
    async_given = redis.asyncio.Redis.from_url(redis_url)
    one = RedisRateLimiter(sync_given, requests_per_minute=2, name="given")
    other = RedisRateLimiter(async_given, requests_per_minute=2, name="given")
    with RelayClient(TEST_API_KEY, emulator.base_url, rate_limiter=one) as client:
        client.chat(model=MODEL, messages=PROMPT)

    async def run() -> float:
        async with AsyncRelayClient(TEST_API_KEY, emulator.base_url, rate_limiter=other) as c:
            await c.chat(model=MODEL, messages=PROMPT)
        reservation = await other.areserve()
        await async_given.aclose()
        return reservation.wait

    assert asyncio.run(run()) > 59.0  # both clients counted in one window
    one.close()
    assert sync_given.ping()  # not closed by the limiter
    sync_given.close()
    with pytest.raises(ConfigurationError, match="must be a redis://"):
        RedisRateLimiter("localhost:6379", requests_per_minute=1)
    with pytest.raises(ConfigurationError, match=r"redis\.Redis"):
        RedisRateLimiter(object(), requests_per_minute=1)
