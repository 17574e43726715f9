"""The shared-clients cache (holysheep_relay.shared_clients): sharing, per-loop async, closing."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from holysheep_relay import (
    AsyncRelayClient,
    ConfigurationError,
    RateLimiter,
    Timeouts,
    UsageEvent,
    UsageLedger,
)
from holysheep_relay import shared_clients as pool_module
from holysheep_relay.provider import ClientSpec, aclose_clients, close_clients
from holysheep_relay.shared_clients import async_client, sync_client
from holysheep_relay.testing import Emulator

from .helpers import KEY, USER


@pytest.fixture(autouse=True)
def _fresh_pool() -> Iterator[None]:
    close_clients()
    yield
    close_clients()


def spec(base_url: str = "http://127.0.0.1:9/v1", **kw: Any) -> ClientSpec:
    kw.setdefault("max_retries", 0)
    return ClientSpec.build(KEY, base_url, **kw)


def test_equal_configuration_shares_one_client() -> None:
    a = spec(timeout=30, default_headers={"X-A": "1", "X-B": "2"})
    b = spec(timeout=30.0, default_headers={"X-B": "2", "X-A": "1"})
    assert a is not b
    assert a == b
    assert hash(a) == hash(b)
    assert sync_client(a) is sync_client(b)
    assert sync_client(a).config.timeouts == Timeouts(connect=10.0, read=30.0, write=30.0)


@pytest.mark.parametrize(
    "change",
    [
        {"base_url": "http://127.0.0.1:10/v1"},
        {"timeout": 5},
        {"max_retries": 3},
        {"default_headers": {"X-Team": "a"}},
        {"requests_per_minute": 60},
        {"tokens_per_minute": 1000},
        {"rate_limiter": RateLimiter(requests_per_minute=5)},
        {"on_usage": print},
        {"pricing": {"my-model": {"input": 1.0, "output": 2.0}}},
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_different_configuration_gets_its_own_client(change: dict[str, Any]) -> None:
    base = sync_client(spec())
    other = sync_client(spec(**change))
    assert other is not base
    assert sync_client(spec(**change)) is other  # and shares it with equal configurations


def test_a_different_key_gets_its_own_client() -> None:
    other = ClientSpec.build(KEY + "x", "http://127.0.0.1:9/v1", max_retries=0)
    assert other != spec()
    assert sync_client(other) is not sync_client(spec())
    assert sync_client(other).config.api_key.get_secret_value() == KEY + "x"


def test_callbacks_limiters_and_pricing_compare_by_identity() -> None:
    ledger, limiter = UsageLedger(), RateLimiter(requests_per_minute=5)
    prices = {"my-model": {"input": 1.0, "output": 2.0}}
    first = sync_client(spec(on_usage=[ledger], rate_limiter=limiter, pricing=prices))
    assert sync_client(spec(on_usage=ledger, rate_limiter=limiter, pricing=prices)) is first
    assert first.usage_callbacks == [ledger]
    assert first.rate_limiter is limiter
    price = first.pricing.price("my-model")
    assert price is not None
    assert (price.input, price.output) == (1.0, 2.0)
    # equal by value but other objects: other clients (callbacks must never cross over)
    others = [
        spec(on_usage=UsageLedger(), rate_limiter=limiter, pricing=prices),
        spec(on_usage=ledger, rate_limiter=RateLimiter(requests_per_minute=5), pricing=prices),
        spec(on_usage=ledger, rate_limiter=limiter, pricing=dict(prices)),
        spec(on_usage=[ledger, ledger], rate_limiter=limiter, pricing=prices),
    ]
    clients = {id(sync_client(s)) for s in others}
    assert id(first) not in clients
    assert len(clients) == len(others)


def test_bound_methods_compare_by_their_object_and_function() -> None:
    calls: list[UsageEvent] = []
    ledger = UsageLedger()
    client = sync_client(spec(on_usage=calls.append))
    assert sync_client(spec(on_usage=calls.append)) is client  # a new bound method each time
    assert sync_client(spec(on_usage=[].append)) is not client
    assert sync_client(spec(on_usage=calls.extend)) is not client
    method = sync_client(spec(on_usage=ledger.__call__))
    assert sync_client(spec(on_usage=ledger.__call__)) is method
    assert sync_client(spec(on_usage=UsageLedger().__call__)) is not method


def test_cached_objects_stay_referenced_so_ids_are_not_reused() -> None:
    # Each dict below is garbage as soon as its spec is; CPython would hand its address to
    # the next one. The cache holds them, so a new dict never finds another's client.
    seen = set()
    for i in range(8):
        client = sync_client(spec(pricing={"m": {"input": i, "output": 1}}))
        gc.collect()
        assert id(client) not in seen
        seen.add(id(client))
        price = client.pricing.price("m")
        assert price is not None
        assert price.input == i


def test_the_key_never_shows_and_is_hashed_in_the_cache_key() -> None:
    s = spec(on_usage=UsageLedger(), rate_limiter=RateLimiter(requests_per_minute=5))
    assert KEY not in repr(s)
    assert KEY not in str(s)
    assert "**********" in repr(s)
    assert KEY not in repr(s.key)
    assert all(KEY not in str(part) for part in s.key)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"api_key": None}, "HOLYSHEEP_API_KEY"),
        ({"base_url": "ftp://example.com"}, "URL|url"),
        ({"timeout": -1}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"requests_per_minute": -5}, "positive"),
        ({"tokens_per_minute": -5}, "positive"),
        ({"rate_limiter": "fast"}, "RateLimiter"),
        ({"rate_limiter": RateLimiter(5), "requests_per_minute": 5}, "not both"),
        ({"on_usage": "print"}, "callable"),
        ({"on_usage": [print, 42]}, "callable"),
        ({"on_usage": 42}, "callable"),
        ({"pricing": {"m": {"input": 1.0}}}, "pricing"),
    ],
)
def test_bad_configuration_fails_at_build_time(
    monkeypatch: pytest.MonkeyPatch, kw: dict[str, Any], match: str
) -> None:
    monkeypatch.delenv("HOLYSHEEP_API_KEY", raising=False)
    args: dict[str, Any] = {"api_key": KEY, "base_url": "http://127.0.0.1:9/v1", **kw}
    with pytest.raises(ConfigurationError, match=match):
        ClientSpec.build(args.pop("api_key"), args.pop("base_url"), **args)
    assert not pool_module._sync  # nothing was built


def test_numeric_limits_share_one_limiter_per_key_url_and_limits() -> None:
    limits = {"requests_per_minute": 601, "tokens_per_minute": 100_001}
    limiter = sync_client(spec(**limits)).rate_limiter
    assert limiter is not None
    assert (limiter.requests_per_minute, limiter.tokens_per_minute) == (601, 100_001)
    # another client (other retries) with the same key, URL and limits: the same budget
    assert sync_client(spec(max_retries=3, **limits)).rate_limiter is limiter
    assert sync_client(spec(requests_per_minute=601)).rate_limiter is not limiter
    other_url = spec(base_url="http://127.0.0.1:10/v1", **limits)
    assert sync_client(other_url).rate_limiter is not limiter
    other_key = ClientSpec.build(KEY + "x", "http://127.0.0.1:9/v1", **limits)
    assert sync_client(other_key).rate_limiter is not limiter
    assert sync_client(spec()).rate_limiter is None
    explicit = RateLimiter(requests_per_minute=601, tokens_per_minute=100_001)
    assert sync_client(spec(rate_limiter=explicit)).rate_limiter is explicit


def test_the_shared_limiter_survives_close_clients() -> None:
    limiter = sync_client(spec(requests_per_minute=601)).rate_limiter
    close_clients()
    assert sync_client(spec(requests_per_minute=601)).rate_limiter is limiter


def loop_pools(client: AsyncRelayClient) -> list[httpx.AsyncClient]:
    """The per-event-loop connection pools an async client has opened so far."""
    assert client._pools is not None
    return [entry.http for entry in client._pools._pools.values()]


def test_one_async_client_serves_every_event_loop_and_each_loop_closes_its_pool(
    emulator: Emulator,
) -> None:
    ledger = UsageLedger()
    s = spec(emulator.base_url, on_usage=ledger)
    used: list[httpx.AsyncClient] = []

    async def go() -> AsyncRelayClient:
        client = await async_client(s)
        assert client is await async_client(spec(emulator.base_url, on_usage=ledger))
        assert (await client.chat(model="gpt-4.1", messages=USER)).content
        used.extend(loop_pools(client))
        return client

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = asyncio.run(go())
        second = asyncio.run(go())  # a new loop, same client: no "Event loop is closed"
        gc.collect()
    assert first is second
    # asyncio.run shut each loop down, and the loop closed its own pool on the way out
    assert len({id(h) for h in used}) == 2
    assert all(h.is_closed for h in used)
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert ledger.total.requests == 2
    assert sync_client(s) is not first


def test_finished_event_loops_do_not_pile_up(emulator: Emulator) -> None:
    s = spec(emulator.base_url)

    async def touch() -> AsyncRelayClient:
        client = await async_client(s)
        await client.chat(model="gpt-4.1", messages=USER)
        return client

    for _ in range(5):  # e.g. a script calling asyncio.run() per request
        client = asyncio.run(touch())
    assert len(pool_module._async) == 1
    pools = loop_pools(client)
    assert len(pools) == 1
    assert pools[0].is_closed  # only the last loop's, already closed


def test_close_clients_then_use_again(emulator: Emulator) -> None:
    s = spec(emulator.base_url)
    client = sync_client(s)
    close_clients()
    assert client._http.is_closed
    fresh = sync_client(s)
    assert fresh is not client
    assert fresh.chat(model="gpt-4.1", messages=USER).content == "Hello! You said: hello there"

    async def go() -> None:
        client = await async_client(s)
        assert (await client.chat(model="gpt-4.1", messages=USER)).content
        [pool] = loop_pools(client)
        await aclose_clients()
        assert pool.is_closed
        # the client opens a fresh pool for this loop on its next call
        assert (await (await async_client(s)).chat(model="gpt-4.1", messages=USER)).content

    asyncio.run(go())


def test_close_clients_inside_a_running_loop_leaves_its_pools_to_the_loop(
    emulator: Emulator,
) -> None:
    s = spec(emulator.base_url)

    async def go() -> AsyncRelayClient:
        client = await async_client(s)
        await client.chat(model="gpt-4.1", messages=USER)
        close_clients()  # forgets it; the loop still closes its pool at shutdown
        assert await async_client(s) is not client
        return client

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = asyncio.run(go())
        gc.collect()
    assert all(pool.is_closed for pool in loop_pools(client))
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_import_pulls_in_no_framework() -> None:
    code = (
        "import sys, holysheep_relay\n"
        "bad = [m for m in ('langchain_core', 'llama_index') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "import holysheep_relay.provider as p, holysheep_relay.shared_clients as s\n"
        "assert p.close_clients is s.close_clients\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
