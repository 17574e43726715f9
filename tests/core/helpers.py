"""Run the same scenario through the sync and the async client (one test body for both)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx

from holysheep_relay import (
    AsyncRelayClient,
    ChatChunk,
    ChatCompletion,
    EmbeddingResult,
    ModelInfo,
    RelayClient,
    RetryPolicy,
    StreamResult,
)

KEY = "hs_fake_unit_secret_0123456789abcdef"
USER = [{"role": "user", "content": "hello there"}]
Handler = Callable[[httpx.Request], httpx.Response]


def fast_retry_policy(max_retries: int = 2) -> RetryPolicy:
    """The default decisions with millisecond backoff (Retry-After values still honoured)."""
    return RetryPolicy(max_retries=max_retries, initial_delay=0.001, max_delay=0.002)


class Runner:
    """Builds a sync or async client (over a handler or a real URL) and runs one call."""

    def __init__(self, sync: bool, handler: Handler | None = None, **client_kw: Any) -> None:
        self.sync = sync
        self.handler = handler
        self.client_kw = {"api_key": KEY, **client_kw}
        self.client_kw.setdefault(
            "retry_policy", fast_retry_policy(self.client_kw.get("max_retries", 2))
        )
        if handler is not None:
            self.client_kw.setdefault("base_url", "http://relay.test/v1")

    def _sync_client(self) -> RelayClient:
        http = httpx.Client(transport=httpx.MockTransport(self.handler)) if self.handler else None
        return RelayClient(http_client=http, **self.client_kw)

    def _async_client(self) -> AsyncRelayClient:
        http = (
            httpx.AsyncClient(transport=httpx.MockTransport(self.handler)) if self.handler else None
        )
        return AsyncRelayClient(http_client=http, **self.client_kw)

    def chat(self, **kw: Any) -> ChatCompletion:
        kw.setdefault("model", "gpt-4.1")
        kw.setdefault("messages", USER)
        if self.sync:
            with self._sync_client() as c:
                return c.chat(**kw)

        async def go() -> ChatCompletion:
            async with self._async_client() as c:
                return await c.chat(**kw)

        return asyncio.run(go())

    def stream(self, *, calls: int = 1, **kw: Any) -> tuple[list[ChatChunk], StreamResult]:
        """Stream ``calls`` times on one client; return the last stream's chunks and result."""
        kw.setdefault("model", "gpt-4.1")
        kw.setdefault("messages", USER)
        if self.sync:
            with self._sync_client() as c:
                for _ in range(calls):
                    s = c.stream_chat(**kw)
                    chunks = list(s)
                return chunks, s.result

        async def go() -> tuple[list[ChatChunk], StreamResult]:
            async with self._async_client() as c:
                for _ in range(calls):
                    s = await c.stream_chat(**kw)
                    chunks = [ch async for ch in s]
                return chunks, s.result

        return asyncio.run(go())

    def models(self) -> list[ModelInfo]:
        if self.sync:
            with self._sync_client() as c:
                return c.list_models()

        async def go() -> list[ModelInfo]:
            async with self._async_client() as c:
                return await c.list_models()

        return asyncio.run(go())

    def embed(self, **kw: Any) -> EmbeddingResult:
        kw.setdefault("model", "text-embedding-3-small")
        if self.sync:
            with self._sync_client() as c:
                return c.embed(**kw)

        async def go() -> EmbeddingResult:
            async with self._async_client() as c:
                return await c.embed(**kw)

        return asyncio.run(go())


def sse(*chunks: dict[str, Any] | str, done: bool = True, sep: str = "\n") -> bytes:
    frames = [f"data: {c if isinstance(c, str) else json.dumps(c)}{sep}{sep}" for c in chunks]
    if done:
        frames.append(f"data: [DONE]{sep}{sep}")
    return "".join(frames).encode()


def text_chunks(
    *pieces: str, finish: str | None = "stop", usage: bool = True
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {
            "id": "c1",
            "model": "gpt-4.1",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}],
        }
    ]
    for p in pieces:
        out.append(
            {"id": "c1", "model": "gpt-4.1", "choices": [{"index": 0, "delta": {"content": p}}]}
        )
    if finish:
        out.append(
            {
                "id": "c1",
                "model": "gpt-4.1",
                "choices": [{"index": 0, "delta": {}, "finish_reason": finish}],
            }
        )
    if usage:
        out.append(
            {
                "id": "c1",
                "model": "gpt-4.1",
                "choices": [],
                "usage": {
                    "prompt_tokens": 4,
                    "completion_tokens": len(pieces),
                    "total_tokens": 4 + len(pieces),
                },
            }
        )
    return out


def completion(content: str = "hi", model: str = "gpt-4.1") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5},
    }
