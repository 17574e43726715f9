"""SSE framing of chunk objects, with the stream-level faults applied.

:func:`build_script` turns the ``chat.completion.chunk`` dicts into the exact SSE events to
send (``data: {...}\\n\\n`` frames, ``data: [DONE]``, comments, error events), the delay to
wait before each event and how the HTTP body ends (``"clean"`` chunked terminator or
``"reset"``, an abortive TCP close).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from ._faults import UPSTREAM_ERROR, Fault

__all__ = ["StreamScript", "build_script", "json_lines", "split_pieces"]


def _dumps(value: Any) -> str:
    """Compact JSON with raw UTF-8 (not ``\\u`` escapes), as OpenAI streams it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass
class StreamScript:
    """What to write: ``events[i]`` after sleeping ``delays[i]`` seconds, then the ending."""

    events: list[bytes] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    ending: str = "clean"  # "clean": chunked terminator; "reset": RST without terminator
    split_bytes: bool = False


def json_lines(obj: dict[str, Any]) -> list[str]:
    """Compact JSON of ``obj`` split into two lines between top-level members.

    Joining the lines with ``"\\n"`` (as an SSE parser does) gives valid JSON again.
    """
    items = [f"{_dumps(k)}:{_dumps(v)}" for k, v in obj.items()]
    if len(items) < 2:
        return ["{", ",".join(items) + "}"]
    half = len(items) // 2
    return ["{" + ",".join(items[:half]) + ",", ",".join(items[half:]) + "}"]


def split_pieces(data: bytes) -> list[bytes]:
    """Cut ``data`` into 1, 2, 3, 1, 2, 3... byte pieces (splitting UTF-8 sequences)."""
    pieces: list[bytes] = []
    start, size = 0, 1
    while start < len(data):
        pieces.append(data[start : start + size])
        start += size
        size = size % 3 + 1
    return pieces


def _finish_position(chunks: list[dict[str, Any]]) -> int:
    for position, chunk in enumerate(chunks):
        if any(c.get("finish_reason") for c in chunk.get("choices", [])):
            return position
    return len(chunks)


def _with_keepalives(events: list[str], nl: str) -> list[str]:
    """A keep-alive comment first and a ``: PING`` comment between events."""
    spaced = [f": keep-alive{nl}{nl}"]
    for position, event in enumerate(events):
        if position:
            spaced.append(f": PING{nl}{nl}")
        spaced.append(event)
    return spaced


def build_script(
    chunks: list[dict[str, Any]], fault: Fault | None, chunk_delay: float = 0.0
) -> StreamScript:
    """Frame ``chunks`` as SSE, applying ``fault`` (any kind; non-stream kinds are ignored)."""
    kind = fault.kind if fault else None
    params = fault.params if fault else {}
    nl = "\r\n" if kind == "crlf" else "\n"

    def data_event(payload: str, event: str | None = None) -> str:
        head = f"event: {event}{nl}" if event else ""
        return f"{head}data: {payload}{nl}{nl}"

    def frame(chunk: dict[str, Any]) -> str:
        if kind == "multi_line_data":
            return "".join(f"data: {line}{nl}" for line in json_lines(chunk)) + nl
        return data_event(_dumps(chunk))

    frames = [frame(c) for c in chunks]
    done = data_event("[DONE]")
    after = int(params.get("after", 2))
    ending = "clean"
    events: list[str]
    if kind == "reset_during_stream":
        events, ending = frames[:after], "reset"
    elif kind == "truncated_stream":
        events = frames[: min(after, _finish_position(chunks))]
    elif kind == "malformed_chunk":
        events = [*frames[:after], data_event("{not json"), *frames[after:], done]
    elif kind == "error_chunk":
        style = params.get("style", "data")
        if style == "finish_reason":
            bad = copy.deepcopy(chunks[0])
            bad["choices"] = [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "error"}]
            error = frame(bad)
        else:
            payload = _dumps(params.get("error", UPSTREAM_ERROR))
            error = data_event(payload, "error" if style == "event" else None)
        events = [*frames[:after], error]
        if params.get("done"):
            events.append(done)
    else:
        events = [*frames, done]
    if kind == "keepalive":
        events = _with_keepalives(events, nl)
    delays = [chunk_delay if position else 0.0 for position in range(len(events))]
    if kind == "slow_stream":
        slow_after = int(params.get("after", 1))
        delay = float(params.get("delay", 0.1))
        delays = [d + delay if p >= slow_after else d for p, d in enumerate(delays)]
    return StreamScript(
        events=[e.encode("utf-8") for e in events],
        delays=delays,
        ending=ending,
        split_bytes=kind == "split_bytes",
    )
