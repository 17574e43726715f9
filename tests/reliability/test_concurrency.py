"""Concurrency: the shared rate limiter under contention, event loops, early stream exits.

- ``RateLimiter.reserve()`` driven at once from N threads and N asyncio tasks, on a fake
  clock: no 60-second window of granted times holds more than the limits.
- The async clients work across ``asyncio.run`` calls, in several loops at once and in a
  hand-made loop: the "Event loop is closed" bug class.
- Breaking out of a stream early closes its HTTP response (the relay sees the connection
  go), through every streamed entry point.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from holysheep_relay import (
    AsyncRelayClient,
    RateLimiter,
    RelayClient,
)
from holysheep_relay.provider import close_clients
from holysheep_relay.testing import Emulator
from tests.emulator_fixtures import TEST_API_KEY
from tests.windows import max_in_window

# -- the rate limiter under contention ---------------------------------------------------


class SteppingClock:
    """A fake clock that moves ``step`` seconds on every read (so reads interleave with
    time passing) and remembers, per thread, the value it last returned."""

    def __init__(self, step: float) -> None:
        self.t = 0.0
        self.step = step
        self._lock = threading.Lock()
        self._local = threading.local()

    def __call__(self) -> float:
        with self._lock:
            self.t += self.step
            value = self.t
        self._local.last = value
        return value

    @property
    def last(self) -> float:
        return float(self._local.last)


RPM, TPM = 120, 6_000
WORKERS, PER_WORKER = 8, 40


def _amounts(worker: str) -> list[int]:
    rng = random.Random(worker)
    return [rng.randint(1, 400) for _ in range(PER_WORKER)]


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads as often as possible, so that reservations really interleave."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def test_limiter_budgets_hold_for_threads_and_tasks_at_once(fast_switching: None) -> None:
    clock = SteppingClock(step=0.01)
    limiter = RateLimiter(requests_per_minute=RPM, tokens_per_minute=TPM, clock=clock)
    grants: list[tuple[str, float, int, float]] = []  # (worker, granted at, tokens, wait)
    lock = threading.Lock()
    start = threading.Barrier(WORKERS + 1)

    def reserve(worker: str, tokens: int) -> None:
        wait = limiter.reserve(tokens).wait
        granted = clock.last + wait
        with lock:
            grants.append((worker, granted, tokens, wait))

    def thread_worker(name: str) -> None:
        start.wait()
        for tokens in _amounts(name):
            reserve(name, tokens)

    async def task_worker(name: str) -> None:
        for tokens in _amounts(name):
            reserve(name, tokens)
            await asyncio.sleep(0)  # let the other tasks in between

    async def all_tasks() -> None:
        start.wait()
        await asyncio.gather(*(task_worker(f"task-{i}") for i in range(WORKERS)))

    threads = [
        threading.Thread(target=thread_worker, args=(f"thread-{i}",)) for i in range(WORKERS)
    ]
    threads.append(threading.Thread(target=asyncio.run, args=(all_tasks(),)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(grants) == 2 * WORKERS * PER_WORKER
    # contention really happened: the workers' reservations interleave, most had to wait
    order = [worker for worker, *_ in grants]
    switches = sum(1 for a, b in itertools.pairwise(order) if a != b)
    assert switches > WORKERS
    assert sum(1 for *_, wait in grants if wait > 0) > len(grants) // 2
    requests = [(t, 1.0) for _, t, _, _ in grants]
    tokens = [(t, float(n)) for _, t, n, _ in grants]
    # no 60 s window holds more than the limits
    assert max_in_window(requests) <= RPM
    assert max_in_window(tokens) <= TPM
    # and the windows are used: the schedule is no longer than the limits make it
    last = max(t for _, t, _, _ in grants)
    assert last <= 60.25 * (len(grants) / RPM + sum(n for *_, n, _ in grants) / TPM)
    print(
        f"\nlimiter: {len(grants)} reservations from {WORKERS} threads + {WORKERS} tasks; "
        f"max requests in a 60 s window {max_in_window(requests):.0f} (budget {RPM}/min), "
        f"max tokens {max_in_window(tokens):.0f} (budget {TPM}/min); schedule ends at "
        f"{last:.0f} s"
    )


def test_the_checker_catches_a_limiter_that_overspends() -> None:
    """``max_in_window`` is not vacuous: one request too many in a window fails it."""
    burst = [(0.0, 1.0)] * RPM
    assert max_in_window(burst) <= RPM
    assert max_in_window([*burst, (59.9, 1.0)]) > RPM


# -- event loops -----------------------------------------------------------------------------

PROMPT = [{"role": "user", "content": "loop check"}]
ANSWER = "Hello! You said: loop check"


class AsyncClients:
    """One object of each async entry point, reused across loops."""

    def __init__(self, base_url: str) -> None:
        from langchain_holysheep import ChatHolySheep
        from llama_index_holysheep import HolySheep

        kw: dict[str, Any] = {"api_key": TEST_API_KEY, "base_url": base_url}
        self.core = AsyncRelayClient(**kw)
        self.langchain = ChatHolySheep(model="gpt-4.1", **kw)
        self.llama = HolySheep(model="gpt-4.1", **kw)

    async def every_call(self) -> list[str]:
        from llama_index.core.llms import ChatMessage

        answers = [(await self.core.chat(model="gpt-4.1", messages=PROMPT)).content]
        stream = await self.core.stream_chat(model="gpt-4.1", messages=PROMPT)
        async with stream:
            answers.append("".join([_text(c) async for c in stream]))
        answers.append(str((await self.langchain.ainvoke("loop check")).content))
        answers.append(
            "".join([str(c.content) async for c in self.langchain.astream("loop check")])
        )
        li_messages = [ChatMessage(role="user", content="loop check")]
        answers.append(str((await self.llama.achat(li_messages)).message.content))
        answers.append(
            "".join([r.delta or "" async for r in await self.llama.astream_chat(li_messages)])
        )
        return answers

    def close(self) -> None:
        asyncio.run(self.core.aclose())
        close_clients()


def _text(chunk: Any) -> str:
    return "".join(c.delta.content or "" for c in chunk.choices)


@pytest.fixture
def clients(emulator: Emulator) -> Iterator[AsyncClients]:
    objects = AsyncClients(emulator.base_url)
    yield objects
    objects.close()
    _wait_for(lambda: emulator.active_connections == 0)  # every loop closed its pool


def _wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.02)


def test_async_clients_work_across_asyncio_run_calls(
    clients: AsyncClients, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            assert asyncio.run(clients.every_call()) == [ANSWER] * 6
    assert not caplog.records, caplog.text


def test_async_clients_work_in_several_loops_at_once(clients: AsyncClients) -> None:
    results: list[list[str]] = []
    threads = [
        threading.Thread(target=lambda: results.append(asyncio.run(clients.every_call())))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [[ANSWER] * 6] * 4


def test_async_clients_work_in_a_hand_made_loop_then_in_asyncio_run(
    clients: AsyncClients,
) -> None:
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(clients.every_call()) == [ANSWER] * 6
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())  # what asyncio.run does too
        loop.close()
    assert asyncio.run(clients.every_call()) == [ANSWER] * 6


# -- breaking out of a stream early -----------------------------------------------------------

LONG = "tell me " + " ".join(f"w{i}" for i in range(60))
SLOW = {"emulator_chunk_delay": 0.05}  # the whole stream would take ~3 s


def _core_sync(base_url: str) -> None:
    with RelayClient(api_key=TEST_API_KEY, base_url=base_url) as client:
        messages = [{"role": "user", "content": LONG}]
        with client.stream_chat(model="gpt-4.1", messages=messages, **SLOW) as stream:
            for _ in stream:
                break
        _hold(client)


async def _core_async(base_url: str) -> None:
    async with AsyncRelayClient(api_key=TEST_API_KEY, base_url=base_url) as client:
        messages = [{"role": "user", "content": LONG}]
        async with await client.stream_chat(model="gpt-4.1", messages=messages, **SLOW) as s:
            async for _ in s:
                break
        await _ahold(client)


def _langchain(base_url: str) -> Any:
    from langchain_holysheep import ChatHolySheep

    return ChatHolySheep(
        model="gpt-4.1", api_key=TEST_API_KEY, base_url=base_url, model_kwargs=SLOW
    )


def _llama(base_url: str) -> Any:
    from llama_index_holysheep import HolySheep

    return HolySheep(
        model="gpt-4.1", api_key=TEST_API_KEY, base_url=base_url, additional_kwargs=SLOW
    )


def _lc_stream(base_url: str) -> None:
    llm = _langchain(base_url)
    for _ in llm.stream(LONG):
        break
    _hold(llm)


async def _lc_astream(base_url: str) -> None:
    llm = _langchain(base_url)
    async for _ in llm.astream(LONG):
        break
    await _ahold(llm)


def _li_stream(base_url: str) -> None:
    from llama_index.core.llms import ChatMessage

    llm = _llama(base_url)
    for _ in llm.stream_chat([ChatMessage(role="user", content=LONG)]):
        break
    _hold(llm)


async def _li_astream(base_url: str) -> None:
    from llama_index.core.llms import ChatMessage

    llm = _llama(base_url)
    async for _ in await llm.astream_chat([ChatMessage(role="user", content=LONG)]):
        break
    await _ahold(llm)


_emulator: Emulator | None = None


def _hold(obj: object) -> None:
    """With ``obj`` (and its pool) still alive, the relay must see the connection closed."""
    assert _emulator is not None
    _wait_for(lambda: _emulator.active_connections == 0)
    assert obj is not None


async def _ahold(obj: object) -> None:
    assert _emulator is not None
    deadline = time.monotonic() + 5
    while _emulator.active_connections:
        assert time.monotonic() < deadline, "the stream's connection is still open"
        await asyncio.sleep(0.02)
    assert obj is not None


EARLY_EXITS: dict[str, Any] = {
    "core.stream_chat": _core_sync,
    "core.astream_chat": _core_async,
    "ChatHolySheep.stream": _lc_stream,
    "ChatHolySheep.astream": _lc_astream,
    "HolySheep.stream_chat": _li_stream,
    "HolySheep.astream_chat": _li_astream,
}


@pytest.mark.parametrize("entry", sorted(EARLY_EXITS))
def test_breaking_out_of_a_stream_closes_the_response(
    entry: str, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    global _emulator
    _emulator = emulator
    run = EARLY_EXITS[entry]
    with caplog.at_level(logging.ERROR):
        if asyncio.iscoroutinefunction(run):
            asyncio.run(run(emulator.base_url))
        else:
            run(emulator.base_url)
    assert emulator.attempts() == 1
    assert emulator.requests[-1].json["stream"] is True  # type: ignore[index]
    # closing the abandoned generators at loop shutdown raised nothing
    assert not caplog.records, caplog.text


async def _abandon(entry: str, base_url: str) -> Any:
    """Break out of an async stream and keep the half-read iterator: the loop's shutdown
    must close it (and everything it holds) without errors."""
    from llama_index.core.llms import ChatMessage

    if entry == "core.astream_chat":
        client = AsyncRelayClient(api_key=TEST_API_KEY, base_url=base_url)
        messages = [{"role": "user", "content": LONG}]
        iterator: Any = await client.stream_chat(model="gpt-4.1", messages=messages, **SLOW)
        kept: Any = (client, iterator)
    elif entry == "ChatHolySheep.astream":
        iterator = _langchain(base_url).astream(LONG)
        kept = iterator
    else:
        messages = [ChatMessage(role="user", content=LONG)]
        iterator = await _llama(base_url).astream_chat(messages)
        kept = iterator
    async for _ in iterator:
        break
    return kept


@pytest.mark.parametrize("entry", [e for e in sorted(EARLY_EXITS) if ".a" in e])
def test_an_abandoned_async_stream_is_closed_by_the_loop_shutdown(
    entry: str, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        kept = asyncio.run(_abandon(entry, emulator.base_url))
    _wait_for(lambda: emulator.active_connections == 0)
    assert kept is not None
    assert emulator.attempts() == 1
    assert not caplog.records, caplog.text
