"""Incremental Server-Sent-Events decoder: bytes in, events out.

Follows the WHATWG event-stream rules the relay relies on: LF, CR and CRLF line endings
(a CRLF may be split across reads), multi-line ``data:`` joined with ``\\n``, ``:`` comment
lines (keep-alives) ignored, ``event:`` / ``id:`` / ``retry:`` fields, a single leading space
after the colon stripped. Lines are decoded as UTF-8 only once complete, so a multi-byte
character split across reads is never mangled.

>>> d = SSEDecoder()
>>> d.feed(b'data: {"a"') + d.feed(b': 1}\\r\\n\\r\\ndata: [DONE]\\n\\n')
[ServerSentEvent(data='{"a": 1}', event='message', id=None, retry=None), \
ServerSentEvent(data='[DONE]', event='message', id=None, retry=None)]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["SSEDecoder", "ServerSentEvent", "iter_sse"]


@dataclass(slots=True)
class ServerSentEvent:
    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Feed it bytes as they arrive; it returns the events completed so far."""

    __slots__ = ("_buffer", "_data", "_event", "_id", "_retry", "_skip_lf")

    def __init__(self) -> None:
        self._buffer = b""
        self._skip_lf = False  # the previous read ended in CR: a leading LF belongs to it
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        if self._skip_lf and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._skip_lf = False
        buffer = self._buffer + chunk if self._buffer else chunk
        if not buffer:
            return []
        lines = buffer.splitlines()
        last = buffer[-1:]
        if last == b"\n" or last == b"\r":
            self._buffer = b""
            self._skip_lf = last == b"\r"
        else:  # the last line is incomplete: keep it for the next read
            self._buffer = lines.pop()
        events: list[ServerSentEvent] = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: an unterminated final line or event is still delivered."""
        events: list[ServerSentEvent] = []
        if self._buffer:
            line, self._buffer = self._buffer, b""
            event = self._line(line)
            if event is not None:
                events.append(event)
        event = self._line(b"")
        if event is not None:
            events.append(event)
        return events

    def _line(self, raw: bytes) -> ServerSentEvent | None:
        if raw[:6] == b"data: ":  # the line every chunk has: skip the generic parsing
            self._data.append(raw[6:].decode("utf-8", "replace"))
            return None
        if not raw:
            return self._dispatch()
        if raw[:1] == b":":
            return None  # comment / keep-alive
        line = raw.decode("utf-8", "replace")
        name, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._data:
            self._event = ""
            return None
        event = ServerSentEvent(
            data="\n".join(self._data),
            event=self._event or "message",
            id=self._id,
            retry=self._retry,
        )
        self._data = []
        self._event = ""
        return event


def iter_sse(chunks: Iterable[bytes]) -> Iterator[ServerSentEvent]:
    """Decode an iterable of byte chunks into events (flushing at the end)."""
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.flush()
