"""``RelayClient`` and ``AsyncRelayClient``: the only code that talks HTTP to the relay.

Every call is a plan (``_plans``): a generator of I/O steps that does all the deciding.
The two clients differ only in :meth:`perform`, which does one step's I/O (sync or async),
and in the four-line loop that runs a plan. One pooled httpx client per instance (the
async client keeps one per event loop, see ``_loop_pools``); pass ``http_client`` to bring
your own (it is then yours to close, and an async one yours to keep on one loop).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import httpx
from typing_extensions import Unpack

from . import _plans as plans
from ._closing import AsyncClosing, Closing
from ._loop_pools import LoopPools, sleep
from ._plans import Call, Close, Plan, ReadBody, Send, Sleep, Step, advance
from ._state import ClientState
from .errors import RelayError
from .options import ClientOptions
from .stream import AsyncChatStream, ChatStream
from .wire import ChatCompletion, EmbeddingResult, ModelInfo

__all__ = ["AsyncRelayClient", "RelayClient"]

T = TypeVar("T")
Outcome = tuple[Any, BaseException | None]

_POOL = httpx.Limits(max_connections=100, max_keepalive_connections=100)


def _async_http() -> httpx.AsyncClient:
    return httpx.AsyncClient(limits=_POOL, follow_redirects=False)


async def _close_http(http: httpx.AsyncClient) -> None:
    await http.aclose()


class RelayClient(Closing, ClientState):
    """Synchronous client for the HolySheep relay.

    >>> from holysheep_relay import RelayClient
    >>> with RelayClient(api_key="hs_...") as client:  # doctest: +SKIP
    ...     reply = client.chat(model="gpt-4.1", messages=[{"role": "user", "content": "Hi"}])
    ...     print(reply.content, reply.usage.total_tokens, reply.cost_usd)
    """

    def __init__(
        self,
        api_key: Any = None,
        base_url: str | None = None,
        *,
        http_client: httpx.Client | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(api_key, base_url, options)
        self._sleep = options.get("sleep") or time.sleep
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(limits=_POOL, follow_redirects=False)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    # -- I/O: one step at a time ----------------------------------------------------------

    def perform(self, step: Step) -> Outcome:
        """Do ``step``'s I/O: (result, None), or (None, the httpx transport error)."""
        kind = type(step)
        try:
            if kind is Send:
                request = step.request.build(self._http)  # type: ignore[union-attr]
                return self._http.send(request, stream=True, follow_redirects=False), None
            if kind is ReadBody:
                response: httpx.Response = step.response  # type: ignore[union-attr]
                try:
                    return response.read(), None
                finally:
                    response.close()
            if kind is Close:
                step.response.close()  # type: ignore[union-attr]
            elif kind is Sleep:
                self._sleep(step.seconds)  # type: ignore[union-attr]
            elif kind is Call:
                return getattr(step.target, step.method)(*step.args), None  # type: ignore[union-attr]
            return None, None
        except (httpx.TransportError, RelayError) as exc:
            return None, exc

    def _run(self, plan: Plan[T]) -> T:
        done, result = advance(plan, None, None)
        while not done:
            done, result = advance(plan, *self.perform(result))
        return result  # type: ignore[no-any-return]

    # -- the API -------------------------------------------------------------------------

    def chat(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> ChatCompletion:
        """One non-streamed chat completion. ``params`` are sent as-is (None dropped)."""
        return self._run(plans.chat(self, model, messages, params, extra_headers))

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
        plan = plans.open_stream(self, model, messages, params, include_usage, extra_headers)
        return ChatStream(self, self._run(plan), self.perform)

    def list_models(self) -> list[ModelInfo]:
        """The models the relay serves right now (``GET /models``); their published limits
        are remembered for this relay (see :meth:`model_info`)."""
        return self._run(plans.list_models(self))

    def embed(self, *, model: str, input: str | Sequence[str], **params: Any) -> EmbeddingResult:
        """Embed one text or a batch (``encoding_format`` float); vectors in input order."""
        return self._run(plans.embed(self, model, input, params))


class AsyncRelayClient(AsyncClosing, ClientState):
    """Asynchronous client for the HolySheep relay (same methods as :class:`RelayClient`).

    >>> async with AsyncRelayClient() as client:  # doctest: +SKIP
    ...     stream = await client.stream_chat(model="gpt-4.1", messages=msgs)
    ...     async for chunk in stream:
    ...         print(chunk.choices[0].delta.content or "", end="")
    ...     print(stream.result.usage)
    """

    def __init__(
        self,
        api_key: Any = None,
        base_url: str | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(api_key, base_url, options)
        self._sleep = options.get("sleep") or sleep
        self._owns_http = http_client is None
        self._http = http_client or _async_http()
        # an owned pool per event loop: usable across asyncio.run() calls and loops
        self._pools = LoopPools(self._http, _async_http, _close_http) if self._owns_http else None

    async def aclose(self) -> None:
        if self._pools is not None:
            await self._pools.aclose()

    # -- I/O: one step at a time ----------------------------------------------------------

    async def perform(self, step: Step) -> Outcome:
        """Do ``step``'s I/O: (result, None), or (None, the httpx transport error)."""
        kind = type(step)
        try:
            if kind is Send:
                http = self._http if self._pools is None else await self._pools.current()
                request = step.request.build(http)  # type: ignore[union-attr]
                return await http.send(request, stream=True, follow_redirects=False), None
            if kind is ReadBody:
                response: httpx.Response = step.response  # type: ignore[union-attr]
                try:
                    return await response.aread(), None
                finally:
                    await response.aclose()
            if kind is Close:
                await step.response.aclose()  # type: ignore[union-attr]
            elif kind is Sleep:
                await _maybe_await(self._sleep(step.seconds))  # type: ignore[union-attr]
            elif kind is Call:
                method = getattr(step.target, "a" + step.method)  # type: ignore[union-attr]
                return await method(*step.args), None  # type: ignore[union-attr]
            return None, None
        except (httpx.TransportError, RelayError) as exc:
            return None, exc

    async def _run(self, plan: Plan[T]) -> T:
        done, result = advance(plan, None, None)
        while not done:
            done, result = advance(plan, *(await self.perform(result)))
        return result  # type: ignore[no-any-return]

    # -- the API -------------------------------------------------------------------------

    async def chat(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> ChatCompletion:
        return await self._run(plans.chat(self, model, messages, params, extra_headers))

    async def stream_chat(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        include_usage: bool = True,
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> AsyncChatStream:
        plan = plans.open_stream(self, model, messages, params, include_usage, extra_headers)
        return AsyncChatStream(self, await self._run(plan), self.perform)

    async def list_models(self) -> list[ModelInfo]:
        return await self._run(plans.list_models(self))

    async def embed(
        self, *, model: str, input: str | Sequence[str], **params: Any
    ) -> EmbeddingResult:
        return await self._run(plans.embed(self, model, input, params))


async def _maybe_await(value: Any) -> None:
    if hasattr(value, "__await__"):
        await value
