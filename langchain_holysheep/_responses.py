"""Wire -> LangChain: completions, stream chunks, usage and response metadata (pure).

Streaming rules (what ``ChatOpenAI`` pointed at a relay gets wrong):

- usage is attached once, to the final chunk, from the stream's folded result; relays that
  repeat running totals on every chunk are therefore counted once;
- tool-call deltas are renumbered per call: ``id`` and ``name`` are emitted on the first
  delta only (LangChain concatenates strings when merging chunks, so a relay repeating them
  would otherwise produce ``get_weatherget_weather``); a reused ``index`` with a new ``id``
  starts a new call; deltas without ``index`` continue the latest call;
- ``reasoning_content`` deltas go to ``additional_kwargs["reasoning_content"]``;
- the final chunk carries ``chunk_position="last"`` and all response metadata, so nothing
  is merged twice.

Message ids: like ``ChatOpenAI``, the relay's completion id goes to
``response_metadata["id"]`` (and ``llm_output["id"]``), never to ``AIMessage.id``. Some
relays send the same id on every completion, and LangGraph's ``add_messages`` merges
messages by id: a tool loop's answer would replace its tool-calling message. Left ``None``,
the id is assigned by langchain-core from the run: ``lc_run--<run uuid>`` on every chunk of
a stream (so the merged message has it too), ``lc_run--<run uuid>-<choice index>`` otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    InvalidToolCall,
    ToolCall,
    ToolCallChunk,
    UsageMetadata,
)
from langchain_core.messages.tool import invalid_tool_call
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from holysheep_relay import (
    ChatChunk,
    ChatCompletion,
    StreamResult,
    ToolCallDelta,
    Usage,
)

__all__ = [
    "PROVIDER",
    "StreamConverter",
    "chat_result",
    "parse_tool_calls",
    "usage_metadata",
]

PROVIDER = "holysheep"


def usage_metadata(usage: Usage | None, raw: Any = None) -> UsageMetadata | None:
    """LangChain usage from the core's ``Usage``; token details when the relay sent them."""
    if usage is None:
        return None
    # Built as a plain dict and cast: the optional detail keys are ``NotRequired`` in every
    # langchain-core release, but newer releases spell that in a way type checkers for older
    # Pythons read as required.
    out = cast(
        UsageMetadata,
        {
            "input_tokens": usage.prompt_tokens,
            "output_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
        },
    )
    raw = raw if isinstance(raw, dict) else {}
    prompt_details = raw.get("prompt_tokens_details")
    prompt_details = prompt_details if isinstance(prompt_details, dict) else {}
    output_details = raw.get("completion_tokens_details")
    output_details = output_details if isinstance(output_details, dict) else {}
    if usage.cached_tokens or "cached_tokens" in prompt_details or "cache_read_input_tokens" in raw:
        out["input_token_details"] = {"cache_read": usage.cached_tokens}
    creation = prompt_details.get("cache_write_tokens", raw.get("cache_creation_input_tokens"))
    if isinstance(creation, int) and not isinstance(creation, bool):
        out.setdefault("input_token_details", {})["cache_creation"] = creation
    if usage.reasoning_tokens or "reasoning_tokens" in output_details:
        out["output_token_details"] = {"reasoning": usage.reasoning_tokens}
    return out


def parse_tool_calls(
    raw_calls: Sequence[Any],
) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    """Relay tool calls -> (valid, invalid); bad argument JSON never raises."""
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for raw in raw_calls:
        function = raw.function
        arguments = function.arguments or ""
        try:
            args = json.loads(arguments, strict=False) if arguments.strip() else {}
        except ValueError as exc:
            error = f"arguments are not valid JSON: {exc}"
        else:
            if isinstance(args, dict):
                calls.append(
                    ToolCall(name=function.name, args=args, id=raw.id or None, type="tool_call")
                )
                continue
            error = f"arguments are a JSON {type(args).__name__}, not an object"
        invalid.append(
            invalid_tool_call(
                name=function.name,
                args=arguments,
                id=raw.id or None,
                error=error,
            )
        )
    return calls, invalid


def _metadata(
    *,
    model: str,
    finish_reason: str | None,
    system_fingerprint: str | None,
    response_id: str,
    request_id: str | None,
    cost_usd: float | None,
    latency_ms: float,
) -> dict[str, Any]:
    return {
        "model_name": model,
        "finish_reason": finish_reason,
        "system_fingerprint": system_fingerprint,
        "id": response_id or None,
        "request_id": request_id,
        "cost_usd": cost_usd,
        "latency_ms": latency_ms,
        "model_provider": PROVIDER,
    }


def chat_result(completion: ChatCompletion) -> ChatResult:
    """A non-streamed completion as a ``ChatResult`` (one generation per choice)."""
    raw_usage = completion.raw.get("usage")
    usage = usage_metadata(completion.usage, raw_usage)
    generations = []
    for choice in completion.choices:
        msg = choice.message
        additional: dict[str, Any] = {}
        if msg.reasoning_content:
            additional["reasoning_content"] = msg.reasoning_content
        if msg.refusal:
            additional["refusal"] = msg.refusal
        calls, invalid = parse_tool_calls(msg.tool_calls or ())
        metadata = _metadata(
            model=completion.model,
            finish_reason=choice.finish_reason,
            system_fingerprint=completion.system_fingerprint,
            response_id=completion.id,
            request_id=completion.request_id,
            cost_usd=completion.cost_usd,
            latency_ms=completion.latency_ms,
        )
        if raw_usage is not None:
            metadata["token_usage"] = raw_usage
        if choice.logprobs is not None:
            metadata["logprobs"] = choice.logprobs
        message = AIMessage(
            content=msg.content or "",
            additional_kwargs=additional,
            tool_calls=calls,
            invalid_tool_calls=invalid,
            usage_metadata=usage,
            response_metadata=metadata,
        )
        info: dict[str, Any] = {"finish_reason": choice.finish_reason}
        if choice.logprobs is not None:
            info["logprobs"] = choice.logprobs
        generations.append(ChatGeneration(message=message, generation_info=info))
    llm_output = {
        "token_usage": raw_usage,
        "model_name": completion.model,
        "system_fingerprint": completion.system_fingerprint,
        "id": completion.id,
    }
    return ChatResult(generations=generations, llm_output=llm_output)


class _ToolCallNumbering:
    """Stable LangChain positions for relay tool-call deltas (see the module docstring)."""

    __slots__ = ("_by_index", "_ids", "_names")

    def __init__(self) -> None:
        self._by_index: dict[int, int] = {}  # relay index -> position
        self._ids: list[str] = []  # position -> id seen ('' until one arrives)
        self._names: list[bool] = []  # position -> name emitted

    def chunks(self, deltas: list[ToolCallDelta]) -> list[ToolCallChunk]:
        out: list[ToolCallChunk] = []
        for d in deltas:
            if d.index is not None:
                pos = self._by_index.get(d.index)
            else:
                pos = len(self._ids) - 1 if self._ids else None
            if pos is not None and d.id and self._ids[pos] and d.id != self._ids[pos]:
                pos = None  # the slot is taken by another call
            if pos is None:
                pos = len(self._ids)
                self._ids.append("")
                self._names.append(False)
                if d.index is not None:
                    self._by_index[d.index] = pos
            call_id = None
            if d.id and not self._ids[pos]:
                self._ids[pos] = call_id = d.id
            name = None
            if d.name and not self._names[pos]:
                self._names[pos] = True
                name = d.name
            out.append(
                ToolCallChunk(
                    name=name, args=d.arguments or "", id=call_id, index=pos, type="tool_call_chunk"
                )
            )
        return out


class StreamConverter:
    """Turns one stream's ``ChatChunk`` objects into ``ChatGenerationChunk`` objects.

    ``convert`` returns None for chunks with nothing to say (role-only, finish, usage);
    ``finish`` builds the last chunk from the folded ``StreamResult``.
    """

    __slots__ = ("_numbering", "_raw_usage", "_response_id")

    def __init__(self) -> None:
        self._numbering: _ToolCallNumbering | None = None
        self._response_id: str | None = None
        self._raw_usage: Any = None

    def convert(self, chunk: ChatChunk) -> ChatGenerationChunk | None:
        if self._response_id is None and chunk.id:
            self._response_id = chunk.id
        if chunk.usage is not None:
            self._raw_usage = chunk.raw.get("usage")
        for choice in chunk.choices:
            if choice.index == 0:
                break
        else:
            return None
        delta = choice.delta
        content = delta.content or ""
        reasoning = delta.reasoning_content
        deltas = delta.tool_calls
        if not (content or reasoning or deltas or choice.logprobs):
            return None
        kwargs: dict[str, Any] = {"content": content}
        if reasoning:
            kwargs["additional_kwargs"] = {"reasoning_content": reasoning}
        if deltas:
            if self._numbering is None:
                self._numbering = _ToolCallNumbering()
            kwargs["tool_call_chunks"] = self._numbering.chunks(deltas)
        info = {"logprobs": choice.logprobs} if choice.logprobs else None
        return ChatGenerationChunk(message=AIMessageChunk(**kwargs), generation_info=info)

    def finish(self, result: StreamResult) -> ChatGenerationChunk:
        metadata = _metadata(
            model=result.model,
            finish_reason=result.finish_reason,
            system_fingerprint=result.system_fingerprint,
            response_id=result.id or self._response_id or "",
            request_id=result.request_id,
            cost_usd=result.cost_usd,
            latency_ms=result.latency_ms,
        )
        message = AIMessageChunk(
            content="",
            usage_metadata=usage_metadata(result.usage, self._raw_usage),
            response_metadata=metadata,
            chunk_position="last",
        )
        return ChatGenerationChunk(message=message)
