"""Fold stream chunks into the final message.

Rules, for relays that get the protocol slightly wrong in the ways seen in the wild:
- tool calls are assembled by ``index``; ``id`` and ``name`` come from the first delta that
  carries them and are never concatenated when a relay repeats them on every delta;
- a delta without ``index``, or whose ``index`` is taken by a call with a different ``id``,
  starts a new call when it carries a new id, else continues the latest call;
- arguments are concatenated;
- usage is taken from the last chunk that carries it (relays that repeat running totals on
  every chunk are counted once);
- ``reasoning_content`` / ``reasoning`` deltas are kept apart from the content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .wire import ChatChunk, FunctionCall, ToolCall, Usage

__all__ = ["StreamAccumulator", "StreamResult", "ToolCallBuilder"]


@dataclass(slots=True)
class ToolCallBuilder:
    index: int | None
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def to_tool_call(self) -> ToolCall:
        return ToolCall(
            id=self.id, function=FunctionCall(name=self.name, arguments="".join(self.arguments))
        )


@dataclass
class StreamResult:
    """The folded outcome of a stream (available once iteration has ended)."""

    id: str = ""
    model: str = ""
    content: str = ""
    reasoning_content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    system_fingerprint: str | None = None
    request_id: str | None = None
    latency_ms: float = 0.0
    cost_usd: float | None = None
    chunks: int = 0

    def to_message_dict(self) -> dict[str, Any]:
        """The assistant message in wire shape (for sending back in a conversation)."""
        msg: dict[str, Any] = {"role": "assistant", "content": self.content or None}
        if self.tool_calls:
            msg["tool_calls"] = [t.model_dump() for t in self.tool_calls]
        if self.reasoning_content:
            msg["reasoning_content"] = self.reasoning_content
        return msg


class StreamAccumulator:
    """Feed it every chunk with :meth:`add`; read :meth:`result` at the end.

    Only choice 0 is folded (``n > 1`` streams are delivered chunk by chunk untouched).
    """

    __slots__ = ("_by_index", "_calls", "_content", "_reasoning", "result_so_far")

    def __init__(self) -> None:
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._calls: list[ToolCallBuilder] = []
        self._by_index: dict[int, ToolCallBuilder] = {}
        self.result_so_far = StreamResult()

    @property
    def text(self) -> str:
        return "".join(self._content)

    @property
    def has_content(self) -> bool:
        """True once any text, reasoning or tool call has arrived (a retry would repeat it)."""
        return bool(self._content or self._reasoning or self._calls)

    def add(self, chunk: ChatChunk) -> None:
        res = self.result_so_far
        res.chunks += 1
        if chunk.id and not res.id:
            res.id = chunk.id
        if chunk.model:
            res.model = chunk.model
        if chunk.system_fingerprint:
            res.system_fingerprint = chunk.system_fingerprint
        if chunk.usage is not None:
            res.usage = chunk.usage  # last one wins: running totals are not summed
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            delta = choice.delta
            if delta.content:
                self._content.append(delta.content)
            if delta.reasoning_content:
                self._reasoning.append(delta.reasoning_content)
            if delta.tool_calls:
                for tc in delta.tool_calls:
                    self._add_tool_delta(tc.index, tc.id, tc.name, tc.arguments)
            if choice.finish_reason:
                res.finish_reason = choice.finish_reason

    def _add_tool_delta(
        self, index: int | None, call_id: str | None, name: str | None, arguments: str | None
    ) -> None:
        call: ToolCallBuilder | None
        if index is not None:
            call = self._by_index.get(index)
            if call is not None and call_id and call.id and call_id != call.id:
                call = None  # same index reused for a different call
        else:
            call = self._calls[-1] if self._calls else None
            if call is not None and call_id and call.id and call_id != call.id:
                call = None
        if call is None:
            call = ToolCallBuilder(index=index)
            self._calls.append(call)
            if index is not None:
                self._by_index[index] = call
        if call_id and not call.id:
            call.id = call_id
        if name and not call.name:
            call.name = name
        if arguments:
            call.arguments.append(arguments)

    def tool_calls(self) -> list[ToolCall]:
        return [c.to_tool_call() for c in self._calls]

    def result(self) -> StreamResult:
        res = self.result_so_far
        res.content = "".join(self._content)
        res.reasoning_content = "".join(self._reasoning)
        res.tool_calls = self.tool_calls()
        return res
