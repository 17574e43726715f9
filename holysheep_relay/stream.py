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

Reading is one plan (:meth:`_StreamCore._plan`, see ``_plans``) for both flavours; they
differ only in the driver that performs its steps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ._closing import AsyncClosing, Closing
from ._plans import (
    CHAT,
    Close,
    OpenedStream,
    Plan,
    Pull,
    ReadBody,
    Sleep,
    Step,
    advance,
    another_attempt,
    forfeit,
    send,
    settle,
)
from ._replies import is_event_stream, not_an_event_stream, request_id_of
from ._stream_events import fold_event
from ._transport import map_transport_error
from .accumulate import StreamAccumulator, StreamResult
from .errors import APIStatusError, RelayError, RelayTimeoutError, StreamInterruptedError
from .sse import ServerSentEvent, SSEDecoder
from .wire import ChatChunk

if TYPE_CHECKING:
    from ._state import ClientState

__all__ = ["AsyncChatStream", "ChatStream"]


@dataclass(slots=True)
class Drain:
    """A stream step: read ``response`` to its end, folding and handing chunks to the caller.

    The drivers run that byte loop themselves (the hot path, one iteration per network
    read); the plan resumes only at the end, or with the error that stopped it.
    """

    response: httpx.Response


Outcome = tuple[Any, BaseException | None]


class _StreamCore:
    """What both stream flavours share: the reading plan, folding, the end-of-stream checks."""

    def __init__(self, state: ClientState, opened: OpenedStream) -> None:
        self._state = state
        self._opened = opened
        self._deadline: float | None = opened.send_kw["deadline"]
        self._retries = 0
        self._model = str(opened.body["model"])
        self._result: StreamResult | None = None
        self._open(opened.response)

    def _open(self, response: httpx.Response) -> None:
        """Start reading ``response`` (the first one, or a resend after an error frame)."""
        self._response = response
        self.request_id = request_id_of(response.headers)
        self._decoder = SSEDecoder()
        self._acc = StreamAccumulator()
        self._done = False  # saw [DONE]

    @property
    def partial_text(self) -> str:
        return self._acc.text

    @property
    def result(self) -> StreamResult:
        """The folded stream; raises RuntimeError until iteration has finished cleanly."""
        if self._result is None:
            raise RuntimeError("the stream has not finished yet: iterate it to the end first")
        return self._result

    # -- the plan ------------------------------------------------------------------------

    def _plan(self) -> Plan[None]:
        """Read to the end, then settle the call's reservations; a failed stream forfeits
        them (its output may be billed once content arrived)."""
        admission = self._opened.admission
        try:
            yield from self._read_with_retries()
        except RelayError as error:
            if admission is not None:
                yield from forfeit(self._state, admission, error, billed=self._acc.has_content)
            raise
        if admission is not None:
            yield from settle(self._state, admission, self._result)

    def _read_with_retries(self) -> Plan[None]:
        """Read to the end; resend after a retryable error frame that came before content."""
        while True:
            try:
                yield from self._read()
                return
            except APIStatusError as error:
                delay = self._retry_delay(error)
                if delay is None:
                    raise
            yield Close(self._response)
            yield Sleep(delay)
            yield from another_attempt(self._state)
            opened = self._opened
            self._open((yield from send(self._state, "POST", CHAT, opened.body, **opened.send_kw)))

    def _read(self) -> Plan[None]:
        content_type = str(self._response.headers.get("content-type", ""))
        if not is_event_stream(content_type):
            content = yield ReadBody(self._response)
            raise not_an_event_stream(content_type, content, self.request_id)
        try:
            yield Drain(self._response)  # type: ignore[misc]  # the drivers' byte loop
        except httpx.TransportError as exc:
            raise self._broken(exc) from exc
        chunks, error = self._fold(self._decoder.flush())
        yield Pull(chunks)
        if error is not None:
            raise error
        self._finish()

    def _retry_delay(self, error: RelayError) -> float | None:
        """Seconds before resending after an error frame, or None to raise ``error``.

        Only frames (typed API errors naming a status) that arrive before any content.
        """
        if not isinstance(error, APIStatusError) or self._acc.has_content:
            return None
        delay = self._state.retry_policy.decide(self._retries, error, None, self._deadline)
        if delay is not None:
            self._retries += 1
        return delay

    def _fold(
        self, events: Iterable[ServerSentEvent], check_deadline: bool = False
    ) -> tuple[list[ChatChunk], RelayError | None]:
        """The chunks of ``events``, and the error that stopped them (if any): the chunks
        before an error frame still reach the caller, then the error is raised."""
        deadline = self._deadline
        if check_deadline and deadline is not None and self._state.retry_policy.clock() > deadline:
            raise RelayTimeoutError(
                f"total deadline of {self._state.config.timeouts.total} s passed mid-stream",
                request_id=self.request_id,
                partial_text=self._acc.text,
            )
        out: list[ChatChunk] = []
        try:
            for event in events:
                chunk = fold_event(event, self._acc, self.request_id)
                if chunk is None:
                    self._done = True
                else:
                    out.append(chunk)
        except RelayError as error:
            return out, error
        return out, None

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
        self._state.settle(res, res.model, self._opened.started, streamed=True)
        self._result = res

    def _broken(self, exc: httpx.TransportError) -> RelayError:
        return map_transport_error(
            exc,
            self._state.config.base_url,
            "stream",
            partial_text=self._acc.text,
            request_id=self.request_id,
        )


class ChatStream(Closing, _StreamCore):
    """A sync stream of :class:`ChatChunk`; ``.result`` holds the folded answer at the end.

    >>> with client.stream_chat(model="gpt-4.1", messages=msgs) as stream:  # doctest: +SKIP
    ...     for chunk in stream:
    ...         print(chunk.choices[0].delta.content or "", end="")
    >>> stream.result.usage  # doctest: +SKIP
    """

    def __init__(
        self, state: ClientState, opened: OpenedStream, perform: Callable[[Step], Outcome]
    ) -> None:
        super().__init__(state, opened)
        self._iterator = self._iterate(perform)

    def _iterate(self, perform: Callable[[Step], Outcome]) -> Iterator[ChatChunk]:
        plan = self._plan()
        try:
            done, step = advance(plan, None, None)
            while not done:
                if type(step) is Drain:
                    outcome = yield from self._drain(step.response)
                else:
                    if type(step) is Pull:
                        yield from step.chunks
                    outcome = perform(step)
                done, step = advance(plan, *outcome)
        finally:
            self._response.close()

    def _drain(self, response: httpx.Response) -> Generator[ChatChunk, None, Outcome]:
        try:
            for raw in response.iter_bytes():
                chunks, error = self._fold(self._decoder.feed(raw), check_deadline=True)
                yield from chunks
                if error is not None:
                    return None, error
        except httpx.TransportError as exc:
            return None, exc
        return None, None

    def __iter__(self) -> Iterator[ChatChunk]:
        return self._iterator

    def __next__(self) -> ChatChunk:
        return next(self._iterator)

    def close(self) -> None:
        self._iterator.close()  # type: ignore[attr-defined]
        self._response.close()

    def until_done(self) -> StreamResult:
        """Consume the rest of the stream and return the folded result."""
        for _ in self._iterator:
            pass
        return self.result


class AsyncChatStream(AsyncClosing, _StreamCore):
    """The async twin of :class:`ChatStream` (``async for``, ``aclose()``)."""

    def __init__(
        self,
        state: ClientState,
        opened: OpenedStream,
        perform: Callable[[Step], Awaitable[Outcome]],
    ) -> None:
        super().__init__(state, opened)
        self._iterator = self._iterate(perform)

    async def _iterate(
        self, perform: Callable[[Step], Awaitable[Outcome]]
    ) -> AsyncIterator[ChatChunk]:
        plan = self._plan()
        try:
            done, step = advance(plan, None, None)
            while not done:
                if type(step) is Drain:
                    outcome: Outcome = (None, None)
                    try:  # the byte loop, as in ChatStream._drain (async generators return nothing)
                        async for raw in step.response.aiter_bytes():
                            chunks, error = self._fold(self._decoder.feed(raw), check_deadline=True)
                            for chunk in chunks:
                                yield chunk
                            if error is not None:
                                outcome = (None, error)
                                break
                    except httpx.TransportError as exc:
                        outcome = (None, exc)
                else:
                    if type(step) is Pull:
                        for chunk in step.chunks:
                            yield chunk
                    outcome = await perform(step)
                done, step = advance(plan, *outcome)
        finally:
            await self._response.aclose()

    def __aiter__(self) -> AsyncIterator[ChatChunk]:
        return self._iterator

    async def __anext__(self) -> ChatChunk:
        return await self._iterator.__anext__()

    async def aclose(self) -> None:
        # Only the response: the generator's own ``finally`` would do no more, and a loop's
        # shutdown may be closing that generator concurrently (aclose() would then raise).
        await self._response.aclose()

    async def until_done(self) -> StreamResult:
        async for _ in self._iterator:
            pass
        return self.result
