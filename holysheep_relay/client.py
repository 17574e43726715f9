"""``RelayClient`` and ``AsyncRelayClient``: the only code that talks HTTP to the relay.

Both clients share :class:`~holysheep_relay._base.ClientState` (configuration, retry
decisions, usage accounting) and the pure prepare/finish steps in ``_base`` and
``_protocol``; each adds only its I/O. One pooled httpx client per instance (the async
client keeps one per event loop, see ``_loops``); pass ``http_client`` to bring your own
(it is then yours to close, and an async one yours to keep on one loop).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx
from pydantic import SecretStr

from ._base import (
    ClientState,
    finish_chat,
    finish_embed,
    finish_models,
    prepare_chat,
    prepare_embed,
    reply_error,
    transport_error,
    without_stream_options,
)
from ._loops import LoopPools, sleep
from ._protocol import request_id_of
from .config import Timeouts
from .errors import BadRequestError
from .ratelimit import RateLimiter
from .stream import AsyncChatStream, ChatStream
from .usage import PriceLike, Pricing, UsageCallback
from .wire import ChatCompletion, EmbeddingResult, ModelInfo

__all__ = ["AsyncRelayClient", "RelayClient"]


_POOL = httpx.Limits(max_connections=100, max_keepalive_connections=100)
_CHAT = "/chat/completions"


def _async_http() -> httpx.AsyncClient:
    return httpx.AsyncClient(limits=_POOL, follow_redirects=False)


class RelayClient(ClientState):
    """Synchronous client for the HolySheep relay.

    >>> from holysheep_relay import RelayClient
    >>> with RelayClient(api_key="hs_...") as client:  # doctest: +SKIP
    ...     reply = client.chat(model="gpt-4.1", messages=[{"role": "user", "content": "Hi"}])
    ...     print(reply.content, reply.usage.total_tokens, reply.cost_usd)
    """

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        *,
        timeout: float | Timeouts | httpx.Timeout | None = None,
        max_retries: int = 2,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        rate_limiter: RateLimiter | None = None,
        on_usage: UsageCallback | Sequence[UsageCallback] | None = None,
        pricing: Pricing | Mapping[str, PriceLike] | None = None,
    ) -> None:
        super().__init__(
            api_key,
            base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            rate_limiter=rate_limiter,
            on_usage=on_usage,
            pricing=pricing,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(limits=_POOL, follow_redirects=False)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> RelayClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        model: str | None = None,
        deadline: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send with retries; return a successful response whose body is not read yet."""
        attempt = 0
        while True:
            request = self.build_request(self._http, method, path, body, deadline, extra_headers)
            cause: httpx.TransportError | None = None
            try:
                response = self._http.send(request, stream=True, follow_redirects=False)
            except httpx.TransportError as exc:
                cause, error = exc, transport_error(exc, self.config.base_url)
            else:
                if response.status_code < 300:
                    return response
                try:
                    content = response.read()
                except httpx.TransportError as exc:
                    cause, error = exc, transport_error(exc, self.config.base_url)
                else:
                    error = self.error_for(response, content, model)
                finally:
                    response.close()
            delay = self.retry_delay(attempt, error, cause, deadline)
            if delay is None:
                raise error from cause
            time.sleep(delay)
            attempt += 1

    def _request(self, method: str, path: str, body: Any, **kw: Any) -> tuple[bytes, str | None]:
        """Send, read the whole body, close; return (content, request id)."""
        response = self._send(method, path, body, **kw)
        try:
            return response.read(), request_id_of(response.headers)
        except httpx.TransportError as exc:
            raise reply_error(exc, self.config.base_url) from exc
        finally:
            response.close()

    def chat(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> ChatCompletion:
        """One non-streamed chat completion. ``params`` are sent as-is (None dropped)."""
        body, estimated = prepare_chat(self, model, messages, params, stream=False)
        if self.rate_limiter is not None:
            self.rate_limiter.acquire(estimated)
        started = time.perf_counter()
        content, request_id = self._request(
            "POST", _CHAT, body, model=model, deadline=self.deadline(), extra_headers=extra_headers
        )
        return finish_chat(self, content, request_id, body, started, estimated)

    def stream_chat(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        include_usage: bool = True,
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> ChatStream:
        """Open a streamed chat completion; errors before the first byte raise here."""
        body, estimated = prepare_chat(
            self, model, messages, params, stream=True, include_usage=include_usage
        )
        if self.rate_limiter is not None:
            self.rate_limiter.acquire(estimated)
        started = time.perf_counter()
        kw: dict[str, Any] = {
            "model": model,
            "deadline": self.deadline(),
            "extra_headers": extra_headers,
        }
        try:
            response = self._send("POST", _CHAT, body, **kw)
        except BadRequestError as exc:
            retry_body = without_stream_options(self, exc, body)
            if retry_body is None:
                raise
            body = retry_body
            response = self._send("POST", _CHAT, body, **kw)
        return ChatStream(
            self,
            response,
            body["model"],
            started,
            estimated,
            kw["deadline"],
            resend=lambda: self._send("POST", _CHAT, body, **kw),
        )

    def list_models(self) -> list[ModelInfo]:
        """The models the relay serves right now (``GET /models``)."""
        content, request_id = self._request("GET", "/models", None, deadline=self.deadline())
        return finish_models(self, content, request_id)

    def embed(self, *, model: str, input: str | Sequence[str], **params: Any) -> EmbeddingResult:
        """Embed one text or a batch (``encoding_format`` float); vectors in input order."""
        body, estimated = prepare_embed(self, model, input, params)
        if self.rate_limiter is not None:
            self.rate_limiter.acquire(estimated)
        started = time.perf_counter()
        content, request_id = self._request(
            "POST", "/embeddings", body, model=model, deadline=self.deadline()
        )
        return finish_embed(self, content, request_id, body, started, estimated)


class AsyncRelayClient(ClientState):
    """Asynchronous client for the HolySheep relay (the twin of :class:`RelayClient`).

    >>> async with AsyncRelayClient() as client:  # doctest: +SKIP
    ...     stream = await client.stream_chat(model="gpt-4.1", messages=msgs)
    ...     async for chunk in stream:
    ...         print(chunk.choices[0].delta.content or "", end="")
    ...     print(stream.result.usage)
    """

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        *,
        timeout: float | Timeouts | httpx.Timeout | None = None,
        max_retries: int = 2,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        rate_limiter: RateLimiter | None = None,
        on_usage: UsageCallback | Sequence[UsageCallback] | None = None,
        pricing: Pricing | Mapping[str, PriceLike] | None = None,
    ) -> None:
        super().__init__(
            api_key,
            base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            rate_limiter=rate_limiter,
            on_usage=on_usage,
            pricing=pricing,
        )
        self._owns_http = http_client is None
        self._http = http_client or _async_http()
        # an owned pool per event loop: usable across asyncio.run() calls and loops
        self._pools = LoopPools(self._http, _async_http) if self._owns_http else None

    async def aclose(self) -> None:
        if self._pools is not None:
            await self._pools.aclose()

    async def __aenter__(self) -> AsyncRelayClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        model: str | None = None,
        deadline: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        http = self._http if self._pools is None else await self._pools.current()
        attempt = 0
        while True:
            request = self.build_request(http, method, path, body, deadline, extra_headers)
            cause: httpx.TransportError | None = None
            try:
                response = await http.send(request, stream=True, follow_redirects=False)
            except httpx.TransportError as exc:
                cause, error = exc, transport_error(exc, self.config.base_url)
            else:
                if response.status_code < 300:
                    return response
                try:
                    content = await response.aread()
                except httpx.TransportError as exc:
                    cause, error = exc, transport_error(exc, self.config.base_url)
                else:
                    error = self.error_for(response, content, model)
                finally:
                    await response.aclose()
            delay = self.retry_delay(attempt, error, cause, deadline)
            if delay is None:
                raise error from cause
            await sleep(delay)
            attempt += 1

    async def _request(
        self, method: str, path: str, body: Any, **kw: Any
    ) -> tuple[bytes, str | None]:
        response = await self._send(method, path, body, **kw)
        try:
            return await response.aread(), request_id_of(response.headers)
        except httpx.TransportError as exc:
            raise reply_error(exc, self.config.base_url) from exc
        finally:
            await response.aclose()

    async def chat(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> ChatCompletion:
        body, estimated = prepare_chat(self, model, messages, params, stream=False)
        if self.rate_limiter is not None:
            await self.rate_limiter.aacquire(estimated)
        started = time.perf_counter()
        content, request_id = await self._request(
            "POST", _CHAT, body, model=model, deadline=self.deadline(), extra_headers=extra_headers
        )
        return finish_chat(self, content, request_id, body, started, estimated)

    async def stream_chat(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        include_usage: bool = True,
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> AsyncChatStream:
        body, estimated = prepare_chat(
            self, model, messages, params, stream=True, include_usage=include_usage
        )
        if self.rate_limiter is not None:
            await self.rate_limiter.aacquire(estimated)
        started = time.perf_counter()
        kw: dict[str, Any] = {
            "model": model,
            "deadline": self.deadline(),
            "extra_headers": extra_headers,
        }
        try:
            response = await self._send("POST", _CHAT, body, **kw)
        except BadRequestError as exc:
            retry_body = without_stream_options(self, exc, body)
            if retry_body is None:
                raise
            body = retry_body
            response = await self._send("POST", _CHAT, body, **kw)
        return AsyncChatStream(
            self,
            response,
            body["model"],
            started,
            estimated,
            kw["deadline"],
            resend=lambda: self._send("POST", _CHAT, body, **kw),
        )

    async def list_models(self) -> list[ModelInfo]:
        content, request_id = await self._request("GET", "/models", None, deadline=self.deadline())
        return finish_models(self, content, request_id)

    async def embed(
        self, *, model: str, input: str | Sequence[str], **params: Any
    ) -> EmbeddingResult:
        body, estimated = prepare_embed(self, model, input, params)
        if self.rate_limiter is not None:
            await self.rate_limiter.aacquire(estimated)
        started = time.perf_counter()
        content, request_id = await self._request(
            "POST", "/embeddings", body, model=model, deadline=self.deadline()
        )
        return finish_embed(self, content, request_id, body, started, estimated)
