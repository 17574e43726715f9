"""Chat streams: iterate typed chunks, get the folded result at the end.

A stream owns its HTTP response and closes it when exhausted, broken (an error is raised)
or closed early (``close()``, ``break`` inside ``with``, garbage collection). After a clean
end, the connection goes back to the client's pool. A stream that ends before the relay
said it was finished raises :class:`StreamInterruptedError` with the partial text:
nothing is silently truncated.

An error frame inside the 200 stream (``data: {"error": {...}}``, as gateways send when an
upstream fails after the stream opened) raises the same typed error as an HTTP reply with
the status it names. If it arrives before any content and names a retryable status (429,
5xx, overloaded), the request is sent again under the client's retry policy, exactly as
that HTTP status would be; after content, never (that would bill and print twice).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Iterator
from types import TracebackType
from typing import TYPE_CHECKING

import httpx

from ._loops import sleep
from ._protocol import (
    handle_stream_event,
    is_event_stream,
    not_an_event_stream,
    request_id_of,
)
from .accumulate import StreamAccumulator, StreamResult
from .errors import APIStatusError, RelayError, RelayTimeoutError, StreamInterruptedError
from .sse import SSEDecoder
from .wire import ChatChunk

if TYPE_CHECKING:
    from ._base import ClientState

__all__ = ["AsyncChatStream", "ChatStream"]


class _StreamCore:
    """What both stream flavours share: decoding, folding and the end-of-stream checks."""

    def __init__(
        self,
        state: ClientState,
        response: httpx.Response,
        model: str,
        started: float,
        estimated_tokens: int,
        deadline: float | None = None,
    ) -> None:
        self._state = state
        self._deadline = deadline
        self._retries = 0
        self._open(response)
        self._model = model
        self._started = started
        self._estimated = estimated_tokens
        self._result: StreamResult | None = None

    def _open(self, response: httpx.Response) -> None:
        """Start reading ``response`` (the first one, or a resend after an error frame)."""
        self._response = response
        self.request_id = request_id_of(response.headers)
        self._decoder = SSEDecoder()
        self._acc = StreamAccumulator()
        self._done = False  # saw [DONE]

    def _retry_delay(self, error: RelayError) -> float | None:
        """Seconds before resending after an error frame, or None to raise ``error``.

        Only frames (typed API errors naming a status) that arrive before any content.
        """
        if not isinstance(error, APIStatusError) or self._acc.has_content:
            return None
        delay = self._state.retry_delay(self._retries, error, None, self._deadline)
        if delay is not None:
            self._retries += 1
        return delay

    @property
    def partial_text(self) -> str:
        return self._acc.text

    @property
    def result(self) -> StreamResult:
        """The folded stream; raises RuntimeError until iteration has finished cleanly."""
        if self._result is None:
            raise RuntimeError("the stream has not finished yet: iterate it to the end first")
        return self._result

    @property
    def _content_type(self) -> str:
        return str(self._response.headers.get("content-type", ""))

    def _not_a_stream(self, content: bytes) -> RelayError:
        return not_an_event_stream(self._content_type, content, self.request_id)

    def _chunks(self, raw: bytes) -> list[ChatChunk]:
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise RelayTimeoutError(
                f"total deadline of {self._state.config.timeouts.total} s passed mid-stream",
                request_id=self.request_id,
                partial_text=self._acc.text,
            )
        out = []
        for event in self._decoder.feed(raw):
            chunk = handle_stream_event(event, self._acc, self.request_id)
            if chunk is None:
                self._done = True
            else:
                out.append(chunk)
        return out

    def _flush(self) -> list[ChatChunk]:
        out = []
        for event in self._decoder.flush():
            chunk = handle_stream_event(event, self._acc, self.request_id)
            if chunk is None:
                self._done = True
            else:
                out.append(chunk)
        return out

    def _finish(self) -> None:
        res = self._acc.result()
        if not self._done and res.finish_reason is None:
            raise StreamInterruptedError(
                "the relay closed the stream before it finished (no finish_reason, no [DONE]); "
                "the answer is incomplete",
                request_id=self.request_id,
                partial_text=res.content,
            )
        res.request_id = self.request_id
        res.model = res.model or self._model
        res.latency_ms = (time.perf_counter() - self._started) * 1000
        res.cost_usd = self._state.record_usage(
            res.model,
            res.usage,
            res.latency_ms,
            self.request_id,
            estimated_tokens=self._estimated,
            streamed=True,
        )
        self._result = res

    def _broken(self, exc: httpx.TransportError) -> RelayError:
        from ._base import transport_error

        if isinstance(exc, httpx.TimeoutException):
            error = transport_error(exc, self._state.config.base_url, self._acc.text)
        else:
            error = StreamInterruptedError(
                f"connection to the relay was lost mid-stream ({type(exc).__name__}); "
                "the answer is incomplete",
                partial_text=self._acc.text,
            )
        error.request_id = self.request_id
        return error


class ChatStream(_StreamCore):
    """A sync stream of :class:`ChatChunk`; ``.result`` holds the folded answer at the end.

    >>> with client.stream_chat(model="gpt-4.1", messages=msgs) as stream:  # doctest: +SKIP
    ...     for chunk in stream:
    ...         print(chunk.choices[0].delta.content or "", end="")
    >>> stream.result.usage  # doctest: +SKIP
    """

    def __init__(
        self, *args: object, resend: Callable[[], httpx.Response] | None = None, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._resend = resend
        self._iterator = self._iterate()

    def _iterate(self) -> Generator[ChatChunk, None, None]:
        try:
            while True:
                try:
                    yield from self._read()
                    return
                except APIStatusError as error:
                    delay = self._retry_delay(error) if self._resend else None
                    if delay is None or self._resend is None:
                        raise
                self._response.close()
                time.sleep(delay)
                self._open(self._resend())
        finally:
            self._response.close()

    def _read(self) -> Generator[ChatChunk, None, None]:
        try:
            if not is_event_stream(self._content_type):
                raise self._not_a_stream(self._response.read())
            for raw in self._response.iter_bytes():
                yield from self._chunks(raw)
        except httpx.TransportError as exc:
            raise self._broken(exc) from exc
        yield from self._flush()
        self._finish()

    def __iter__(self) -> Iterator[ChatChunk]:
        return self._iterator

    def __next__(self) -> ChatChunk:
        return next(self._iterator)

    def close(self) -> None:
        self._iterator.close()
        self._response.close()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def until_done(self) -> StreamResult:
        """Consume the rest of the stream and return the folded result."""
        for _ in self._iterator:
            pass
        return self.result


class AsyncChatStream(_StreamCore):
    """The async twin of :class:`ChatStream` (``async for``, ``aclose()``)."""

    def __init__(
        self,
        *args: object,
        resend: Callable[[], Awaitable[httpx.Response]] | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._resend = resend
        self._iterator = self._iterate()

    async def _iterate(self) -> AsyncGenerator[ChatChunk, None]:
        try:
            while True:
                try:
                    async for chunk in self._read():
                        yield chunk
                    return
                except APIStatusError as error:
                    delay = self._retry_delay(error) if self._resend else None
                    if delay is None or self._resend is None:
                        raise
                await self._response.aclose()
                await sleep(delay)
                self._open(await self._resend())
        finally:
            await self._response.aclose()

    async def _read(self) -> AsyncGenerator[ChatChunk, None]:
        try:
            if not is_event_stream(self._content_type):
                raise self._not_a_stream(await self._response.aread())
            async for raw in self._response.aiter_bytes():
                for chunk in self._chunks(raw):
                    yield chunk
        except httpx.TransportError as exc:
            raise self._broken(exc) from exc
        for chunk in self._flush():
            yield chunk
        self._finish()

    def __aiter__(self) -> AsyncIterator[ChatChunk]:
        return self._iterator

    async def __anext__(self) -> ChatChunk:
        return await self._iterator.__anext__()

    async def aclose(self) -> None:
        # Only the response: the generator's own ``finally`` would do no more, and a loop's
        # shutdown may be closing that generator concurrently (aclose() would then raise).
        await self._response.aclose()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def until_done(self) -> StreamResult:
        async for _ in self._iterator:
            pass
        return self.result
