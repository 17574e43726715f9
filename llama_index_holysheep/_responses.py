"""Relay replies -> LlamaIndex ``ChatResponse`` objects (pure functions, no I/O).

Non-streamed replies and streams share :func:`build_message`, so a streamed answer ends in
exactly the message a non-streamed one would give. Messages are built with
``model_construct``: their parts come from already-validated wire objects, and a stream
builds one message per chunk, so a second validation pass would be pure overhead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json

from holysheep_relay import (
    ChatChunk,
    ChatCompletion,
    StreamResult,
    ToolCall,
    Usage,
)
from holysheep_relay.accumulate import StreamAccumulator

from ._convert import wire_tool_call

__all__ = [
    "StreamFolder",
    "build_message",
    "chat_response",
    "parse_arguments",
    "response_metadata",
    "tool_selections",
]

_ASSISTANT = MessageRole.ASSISTANT


def build_message(
    content: str | None,
    reasoning: str | None,
    tool_calls: Sequence[ToolCall],
    reasoning_tokens: int | None = None,
) -> ChatMessage:
    """The assistant message: thinking, text and tool-call blocks (tool calls are also
    kept in ``additional_kwargs["tool_calls"]``, reasoning in ``["reasoning_content"]``)."""
    blocks: list[Any] = []
    extra: dict[str, Any] = {}
    if reasoning:
        blocks.append(ThinkingBlock.model_construct(content=reasoning, num_tokens=reasoning_tokens))
        extra["reasoning_content"] = reasoning
    if content or not tool_calls:
        blocks.append(TextBlock.model_construct(text=content or ""))
    if tool_calls:
        for call in tool_calls:
            blocks.append(
                ToolCallBlock.model_construct(
                    tool_call_id=call.id or None,
                    tool_name=call.function.name,
                    tool_kwargs=call.function.arguments,
                )
            )
        extra["tool_calls"] = list(tool_calls)
    return ChatMessage.model_construct(role=_ASSISTANT, blocks=blocks, additional_kwargs=extra)


def response_metadata(
    usage: Usage | None,
    *,
    cost_usd: float | None,
    request_id: str | None,
    model: str,
    finish_reason: str | None,
    latency_ms: float,
) -> dict[str, Any]:
    """``ChatResponse.additional_kwargs``: token counts, cost and ids of one request."""
    meta: dict[str, Any] = {}
    if usage is not None:
        meta["prompt_tokens"] = usage.prompt_tokens
        meta["completion_tokens"] = usage.completion_tokens
        meta["total_tokens"] = usage.total_tokens
        meta["cached_tokens"] = usage.cached_tokens
        meta["reasoning_tokens"] = usage.reasoning_tokens
    meta["cost_usd"] = cost_usd
    meta["request_id"] = request_id
    meta["model"] = model
    meta["finish_reason"] = finish_reason
    meta["latency_ms"] = latency_ms
    return meta


def chat_response(completion: ChatCompletion, *, cost_usd: float | None) -> ChatResponse:
    """A non-streamed completion as a ChatResponse; ``raw`` is the relay's JSON dict.

    ``cost_usd`` is the cost reported for the request (the model's pricing may differ from
    the client's), so the response and the ``UsageEvent`` agree.
    """
    if completion.choices:
        choice = completion.choices[0]
        wire, finish = choice.message, choice.finish_reason
        content, reasoning, calls = wire.content, wire.reasoning_content, wire.tool_calls or []
    else:
        content, reasoning, calls, finish = None, None, [], None
    usage = completion.usage
    message = build_message(content, reasoning, calls, usage.reasoning_tokens if usage else None)
    meta = response_metadata(
        usage,
        cost_usd=cost_usd,
        request_id=completion.request_id,
        model=completion.model,
        finish_reason=finish,
        latency_ms=completion.latency_ms,
    )
    return ChatResponse.model_construct(
        message=message, raw=completion.raw, delta=None, additional_kwargs=meta
    )


class StreamFolder:
    """Turns stream chunks into ChatResponses that each carry the whole message so far.

    :meth:`on_chunk` gives a response for every chunk that adds text, reasoning or tool-call
    arguments (None otherwise); :meth:`finish` gives the last one, built from the core's
    folded :class:`StreamResult`, with usage, the given cost and request id, and ``raw`` set
    to the chunk that carried the usage.
    """

    __slots__ = ("_calls", "_raw", "_reasoning", "_text", "_tools", "_usage_raw")

    def __init__(self) -> None:
        self._text = ""
        self._reasoning = ""
        self._calls: list[ToolCall] = []
        self._tools: StreamAccumulator | None = None
        self._raw: dict[str, Any] = {}
        self._usage_raw: dict[str, Any] | None = None

    def on_chunk(self, chunk: ChatChunk) -> ChatResponse | None:
        self._raw = chunk.raw
        if chunk.usage is not None:
            self._usage_raw = chunk.raw
        for choice in chunk.choices:
            if choice.index == 0:
                break
        else:
            return None
        delta = choice.delta
        text, reasoning, tool_deltas = delta.content, delta.reasoning_content, delta.tool_calls
        if not (text or reasoning or tool_deltas):
            return None
        if text:
            self._text += text
        extra: dict[str, Any] = {}
        if reasoning:
            self._reasoning += reasoning
            extra["thinking_delta"] = reasoning
        if tool_deltas:
            if self._tools is None:
                self._tools = StreamAccumulator()
            self._tools.add(chunk)  # the core's folding rules: ids/names never concatenated
            self._calls = self._tools.tool_calls()
        message = build_message(self._text, self._reasoning, self._calls)
        return ChatResponse.model_construct(
            message=message, raw=chunk.raw, delta=text or "", additional_kwargs=extra
        )

    def finish(self, result: StreamResult, *, cost_usd: float | None) -> ChatResponse:
        usage = result.usage
        message = build_message(
            result.content,
            result.reasoning_content,
            result.tool_calls,
            usage.reasoning_tokens if usage else None,
        )
        meta = response_metadata(
            usage,
            cost_usd=cost_usd,
            request_id=result.request_id,
            model=result.model,
            finish_reason=result.finish_reason,
            latency_ms=result.latency_ms,
        )
        raw = self._usage_raw if self._usage_raw is not None else self._raw
        return ChatResponse.model_construct(
            message=message, raw=raw, delta="", additional_kwargs=meta
        )


def parse_arguments(arguments: Any) -> dict[str, Any]:
    """Tool-call arguments as a dict; tolerant of the partial JSON seen mid-stream."""
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        try:
            value = parse_partial_json(arguments)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def tool_selections(response: ChatResponse, error_on_no_tool_call: bool) -> list[ToolSelection]:
    """The tool calls of a (possibly partial) response, as LlamaIndex ToolSelections."""
    message = response.message
    calls = [
        (b.tool_call_id or "", b.tool_name, b.tool_kwargs)
        for b in message.blocks
        if isinstance(b, ToolCallBlock)
    ]
    if not calls:
        for raw in message.additional_kwargs.get("tool_calls") or ():
            wire = wire_tool_call(raw)
            calls.append((wire["id"], wire["function"]["name"], wire["function"]["arguments"]))
    if not calls:
        if error_on_no_tool_call:
            raise ValueError(
                "Expected at least one tool call, but the model answered without calling a tool"
            )
        return []
    return [
        ToolSelection(tool_id=call_id, tool_name=name, tool_kwargs=parse_arguments(args))
        for call_id, name, args in calls
    ]
