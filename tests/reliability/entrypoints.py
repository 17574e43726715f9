"""Every public way to ask for one chat answer, as a plain function: run it, get the text.

Twelve entry points: the core (``RelayClient`` / ``AsyncRelayClient``, chat and stream),
``ChatHolySheep`` (invoke, stream, ainvoke, astream) and LlamaIndex ``HolySheep`` (chat,
stream_chat, achat, astream_chat). Each one builds its object from a :class:`Target`,
makes exactly one call, returns the answer text or lets the typed error through. Streamed
text is appended to ``sink`` delta by delta as it arrives, so a test can compare what the
user already saw with the error's ``partial_text``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from holysheep_relay import AsyncRelayClient, RelayClient, RetryPolicy, Timeouts
from tests.emulator_fixtures import TEST_API_KEY

MODEL = "gpt-4.1"


@functools.cache  # one object per value: models with equal settings share a client
def fast_retry_policy(max_retries: int) -> RetryPolicy:
    """The default policy's decisions, with millisecond backoff (Retry-After still honoured)."""
    return RetryPolicy(max_retries=max_retries, initial_delay=0.001, max_delay=0.002)


@dataclass(frozen=True)
class Target:
    """Where and how to call: base URL, retries, timeouts and the user's prompt."""

    base_url: str
    prompt: str = "please say something long enough to stream"
    max_retries: int = 2
    timeout: Timeouts = field(default_factory=lambda: Timeouts(connect=1, read=5))
    api_key: str = TEST_API_KEY

    @property
    def expected(self) -> str:
        """What the emulator answers to ``prompt``."""
        return f"Hello! You said: {self.prompt}"

    def core_kwargs(self) -> dict[str, Any]:
        return {
            "api_key": self.api_key,
            "base_url": self.base_url,
            "max_retries": self.max_retries,
            "timeout": self.timeout,
            # the core's decisions with millisecond backoff: injected, never patched
            "retry_policy": fast_retry_policy(self.max_retries),
        }


Sink = list[str]
Run = Callable[[Target, Sink], str]


@dataclass(frozen=True)
class EntryPoint:
    name: str
    streaming: bool
    run: Run

    def __str__(self) -> str:
        return self.name


def _sync(coro: Callable[[Target, Sink], Coroutine[Any, Any, str]]) -> Run:
    """An async entry point run in a fresh event loop (as a user's ``asyncio.run`` would)."""

    def run(target: Target, sink: Sink) -> str:
        return asyncio.run(coro(target, sink))

    return run


def _messages(target: Target) -> list[dict[str, Any]]:
    return [{"role": "user", "content": target.prompt}]


# -- the core ---------------------------------------------------------------------------


def core_chat(target: Target, sink: Sink) -> str:
    with RelayClient(**target.core_kwargs()) as client:
        return client.chat(model=MODEL, messages=_messages(target)).content


def core_stream(target: Target, sink: Sink) -> str:
    with (
        RelayClient(**target.core_kwargs()) as client,
        client.stream_chat(model=MODEL, messages=_messages(target)) as stream,
    ):
        for chunk in stream:
            sink.extend(c.delta.content for c in chunk.choices if c.delta.content)
    return stream.result.content


async def core_achat(target: Target, sink: Sink) -> str:
    async with AsyncRelayClient(**target.core_kwargs()) as client:
        return (await client.chat(model=MODEL, messages=_messages(target))).content


async def core_astream(target: Target, sink: Sink) -> str:
    async with AsyncRelayClient(**target.core_kwargs()) as client:
        async with await client.stream_chat(model=MODEL, messages=_messages(target)) as stream:
            async for chunk in stream:
                sink.extend(c.delta.content for c in chunk.choices if c.delta.content)
        return stream.result.content


# -- LangChain ----------------------------------------------------------------------------


def _langchain(target: Target) -> Any:
    from langchain_holysheep import ChatHolySheep

    return ChatHolySheep(model=MODEL, **target.core_kwargs())


def lc_invoke(target: Target, sink: Sink) -> str:
    return str(_langchain(target).invoke(target.prompt).content)


def lc_stream(target: Target, sink: Sink) -> str:
    for chunk in _langchain(target).stream(target.prompt):
        if chunk.content:
            sink.append(str(chunk.content))
    return "".join(sink)


async def lc_ainvoke(target: Target, sink: Sink) -> str:
    return str((await _langchain(target).ainvoke(target.prompt)).content)


async def lc_astream(target: Target, sink: Sink) -> str:
    async for chunk in _langchain(target).astream(target.prompt):
        if chunk.content:
            sink.append(str(chunk.content))
    return "".join(sink)


# -- LlamaIndex ---------------------------------------------------------------------------


def _llama(target: Target) -> Any:
    from llama_index_holysheep import HolySheep

    kw = target.core_kwargs()
    return HolySheep(
        model=MODEL,
        api_key=kw["api_key"],
        base_url=kw["base_url"],
        max_retries=kw["max_retries"],
        timeout=kw["timeout"],
        retry_policy=kw["retry_policy"],
    )


def _llama_messages(target: Target) -> list[Any]:
    from llama_index.core.llms import ChatMessage

    return [ChatMessage(role="user", content=target.prompt)]


def li_chat(target: Target, sink: Sink) -> str:
    return str(_llama(target).chat(_llama_messages(target)).message.content)


def li_stream_chat(target: Target, sink: Sink) -> str:
    last = None
    for last in _llama(target).stream_chat(_llama_messages(target)):
        if last.delta:
            sink.append(last.delta)
    assert last is not None
    return str(last.message.content)


async def li_achat(target: Target, sink: Sink) -> str:
    return str((await _llama(target).achat(_llama_messages(target))).message.content)


async def li_astream_chat(target: Target, sink: Sink) -> str:
    last = None
    async for last in await _llama(target).astream_chat(_llama_messages(target)):
        if last.delta:
            sink.append(last.delta)
    assert last is not None
    return str(last.message.content)


ENTRY_POINTS: tuple[EntryPoint, ...] = (
    EntryPoint("core.chat", False, core_chat),
    EntryPoint("core.stream_chat", True, core_stream),
    EntryPoint("core.achat", False, _sync(core_achat)),
    EntryPoint("core.astream_chat", True, _sync(core_astream)),
    EntryPoint("ChatHolySheep.invoke", False, lc_invoke),
    EntryPoint("ChatHolySheep.stream", True, lc_stream),
    EntryPoint("ChatHolySheep.ainvoke", False, _sync(lc_ainvoke)),
    EntryPoint("ChatHolySheep.astream", True, _sync(lc_astream)),
    EntryPoint("HolySheep.chat", False, li_chat),
    EntryPoint("HolySheep.stream_chat", True, li_stream_chat),
    EntryPoint("HolySheep.achat", False, _sync(li_achat)),
    EntryPoint("HolySheep.astream_chat", True, _sync(li_astream_chat)),
)
