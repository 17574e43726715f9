"""Run one call four ways (invoke, ainvoke, stream, astream) with one test body."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

from holysheep_relay.testing import Emulator

MODES = ("invoke", "ainvoke", "stream", "astream")
STREAMING = ("stream", "astream")
KEY = "hs_fake_test_key_0123456789abcdef"  # what the emulator fixtures accept


def collect(chunks: Iterable[Any]) -> Any:
    full = None
    for chunk in chunks:
        full = chunk if full is None else full + chunk
    return full


async def acollect(chunks: AsyncIterator[Any]) -> Any:
    full = None
    async for chunk in chunks:
        full = chunk if full is None else full + chunk
    return full


def call(mode: str, runnable: Any, value: Any, **kw: Any) -> Any:
    """Run ``runnable`` on ``value`` in ``mode``; streamed chunks are summed with ``+``."""
    if mode == "invoke":
        return runnable.invoke(value, **kw)
    if mode == "ainvoke":
        return asyncio.run(runnable.ainvoke(value, **kw))
    if mode == "stream":
        return collect(runnable.stream(value, **kw))
    if mode == "astream":
        return asyncio.run(acollect(runnable.astream(value, **kw)))
    raise ValueError(mode)


def chunks_of(mode: str, runnable: Any, value: Any, **kw: Any) -> list[Any]:
    """Every chunk a sync (``stream``) or async (``astream``) stream yields."""
    if mode == "stream":
        return list(runnable.stream(value, **kw))

    async def go() -> list[Any]:
        return [c async for c in runnable.astream(value, **kw)]

    return asyncio.run(go())


def last_body(emulator: Emulator) -> dict[str, Any]:
    """The JSON body of the last request the emulator received."""
    body = emulator.requests[-1].json
    assert isinstance(body, dict)
    return body
