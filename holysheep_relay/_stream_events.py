"""One stream event at a time: decode it, raise for an error frame, fold it into the stream.

Not pure: :func:`fold_event` adds each chunk to the stream's ``StreamAccumulator`` (the
fold is the point); everything else it does is decided by the event alone."""

from __future__ import annotations

from ._replies import loads
from .accumulate import StreamAccumulator
from .errors import ProtocolError, ServerError, error_from_body
from .sse import ServerSentEvent
from .wire import ChatChunk, chunk_from_dict

__all__ = [
    "check_chunk_types",
    "fold_event",
]


def check_chunk_types(chunk: ChatChunk) -> ChatChunk:
    """``chunk``, or TypeError when a field handed on to callers has the wrong JSON type.

    ``chunk_from_dict`` does not validate; a relay sending ``"content": 5`` or an object as
    tool arguments must give a ProtocolError here, not a TypeError in the caller's code.
    (Exact type checks: JSON only ever gives exact ``str`` / ``int``; ~0.3 us a chunk.)
    """
    fingerprint = chunk.system_fingerprint
    if type(chunk.id) is not str or type(chunk.model) is not str:
        raise TypeError("id and model must be strings")
    if fingerprint is not None and type(fingerprint) is not str:
        raise TypeError("system_fingerprint must be a string")
    for choice in chunk.choices:
        delta = choice.delta
        if type(choice.index) is not int:
            raise TypeError("choice index must be an integer")
        for text in (choice.finish_reason, delta.role, delta.content, delta.refusal):
            if text is not None and type(text) is not str:
                raise TypeError("choice fields must be strings")
        for call in delta.tool_calls or ():
            for field in (call.id, call.name, call.arguments, call.type):
                if field is not None and type(field) is not str:
                    raise TypeError("tool call fields must be strings")
    return chunk


def fold_event(
    event: ServerSentEvent, acc: StreamAccumulator, request_id: str | None
) -> ChatChunk | None:
    """One SSE event: its chunk (folded into ``acc``), None for ``[DONE]``, or raise for an
    error frame or a malformed chunk."""
    data = event.data
    if data == "[DONE]":
        return None
    try:
        obj = loads(data)
    except ValueError as exc:
        raise ProtocolError(
            f"malformed stream chunk from the relay: {data[:120]!r}",
            request_id=request_id,
            partial_text=acc.text,
        ) from exc
    if event.event == "error" or (isinstance(obj, dict) and obj.get("error")):
        raise error_from_body(None, obj, request_id=request_id, partial_text=acc.text)
    if not isinstance(obj, dict):
        raise ProtocolError(
            f"stream chunk is not a JSON object: {data[:120]!r}",
            request_id=request_id,
            partial_text=acc.text,
        )
    try:
        chunk = check_chunk_types(chunk_from_dict(obj))
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(
            f"stream chunk has an unexpected shape: {data[:120]!r}",
            request_id=request_id,
            partial_text=acc.text,
        ) from exc
    acc.add(chunk)
    for choice in chunk.choices:
        if choice.finish_reason == "error":
            raise ServerError(
                "the relay ended the stream with finish_reason='error'",
                request_id=request_id,
                code="error",
                partial_text=acc.text,
            )
    return chunk
