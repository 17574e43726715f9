"""Load: 2,000 async requests at concurrency 200 through each framework adapter.

Every response must be the answer to its own request (the emulator echoes the prompt), the
relay must see each request exactly once, connections must be reused (counted on the
emulator: on average at least 10 requests per connection), and open file descriptors and
threads must be back to their baseline afterwards. The figures are printed (``-s``) and
reported in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from holysheep_relay.provider import close_clients
from holysheep_relay.testing import Emulator
from tests.emulator_fixtures import TEST_API_KEY

REQUESTS = 2000
CONCURRENCY = 200


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def settle(baseline_fds: int, baseline_threads: int, timeout: float = 10.0) -> tuple[int, int]:
    """Poll until fds and threads are back to baseline (the emulator's handler threads exit
    once the client has closed their connections); return the last counts."""
    deadline = time.monotonic() + timeout
    while True:
        fds, threads = open_fds(), threading.active_count()
        if (fds <= baseline_fds and threads <= baseline_threads) or time.monotonic() > deadline:
            return fds, threads
        time.sleep(0.05)


def prompt(i: int) -> str:
    return f"request number {i} of the load test"


async def drive(call: Callable[[str], Awaitable[str]]) -> list[str]:
    """All requests, at most ``CONCURRENCY`` in flight; answers in request order."""
    gate = asyncio.Semaphore(CONCURRENCY)
    in_flight = peak = 0

    async def one(i: int) -> str:
        nonlocal in_flight, peak
        async with gate:
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                return await call(prompt(i))
            finally:
                in_flight -= 1

    answers = await asyncio.gather(*(one(i) for i in range(REQUESTS)))
    assert peak == CONCURRENCY  # the load really was concurrent
    return answers


def _langchain(emulator: Emulator) -> Callable[[str], Awaitable[str]]:
    from langchain_holysheep import ChatHolySheep

    llm = ChatHolySheep(model="gpt-4.1", api_key=TEST_API_KEY, base_url=emulator.base_url)

    async def call(text: str) -> str:
        return str((await llm.ainvoke(text)).content)

    return call


def _llama_index(emulator: Emulator) -> Callable[[str], Awaitable[str]]:
    from llama_index.core.llms import ChatMessage

    from llama_index_holysheep import HolySheep

    llm = HolySheep(model="gpt-4.1", api_key=TEST_API_KEY, base_url=emulator.base_url)

    async def call(text: str) -> str:
        reply = await llm.achat([ChatMessage(role="user", content=text)])
        return str(reply.message.content)

    return call


NAMES = {_langchain: "ChatHolySheep.ainvoke", _llama_index: "HolySheep.achat"}


@pytest.mark.slow  # ~10 s each
@pytest.mark.parametrize("adapter", list(NAMES), ids=["ChatHolySheep", "HolySheep"])
def test_2000_concurrent_requests(
    adapter: Callable[[Emulator], Callable[[str], Awaitable[str]]], emulator: Emulator
) -> None:
    call = adapter(emulator)
    asyncio.run(call("warm up"))  # imports and lazy setup are not leaks
    close_clients()
    emulator.reset()
    fds_before, threads_before = settle(open_fds(), threading.active_count())

    started = time.perf_counter()
    answers = asyncio.run(drive(call))
    elapsed = time.perf_counter() - started
    close_clients()

    assert answers == [f"Hello! You said: {prompt(i)}" for i in range(REQUESTS)]
    bodies: list[Any] = [r.json for r in emulator.requests]
    sent = sorted(b["messages"][-1]["content"] for b in bodies if b)
    assert sent == sorted(prompt(i) for i in range(REQUESTS))  # each exactly once
    connections = emulator.connections_opened
    # reused: never one per request (the pool holds up to 100; a connection idle longer than
    # httpx's keep-alive expiry on a loaded machine may be replaced, so no tighter bound)
    assert 1 <= connections <= REQUESTS // 10
    fds_after, threads_after = settle(fds_before, threads_before)
    print(
        f"\n{NAMES[adapter]}: {REQUESTS} requests, concurrency {CONCURRENCY}, "
        f"{elapsed:.1f} s ({REQUESTS / elapsed:.0f}/s), {connections} connections; "
        f"fds {fds_before} -> {fds_after}, threads {threads_before} -> {threads_after}"
    )
    assert fds_after <= fds_before
    assert threads_after <= threads_before


def test_the_resource_warning_check_catches_an_unclosed_client(emulator: Emulator) -> None:
    """The suite-wide ResourceWarning check (conftest) is not vacuous: a client dropped
    without ``close()`` after a request leaves a socket that it reports."""
    from holysheep_relay import RelayClient

    from .conftest import _collect_warnings

    check = _collect_warnings(2)
    next(check)
    client = RelayClient(api_key=TEST_API_KEY, base_url=emulator.base_url)
    assert client.chat(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}]).content
    del client  # never closed: its pooled connection is still open
    with pytest.raises(AssertionError, match="unclosed"):
        next(check)
