"""Wire types of ``/chat/completions``, ``/models`` and ``/embeddings``.

Whole replies (completions, model lists, embeddings) are validated with pydantic at the
edge, keeping unknown fields. Stream chunks arrive once per token, so they use slotted
classes built straight from the parsed JSON: no validation pass per chunk, only the shape
checks the accumulator needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "ChatChunk",
    "ChatCompletion",
    "ChatMessage",
    "Choice",
    "ChunkChoice",
    "Delta",
    "EmbeddingResult",
    "FunctionCall",
    "ModelInfo",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "chunk_from_dict",
]


class _Wire(BaseModel):
    # defer_build: schemas are built on first use, not at import (import time is a target)
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class Usage(_Wire):
    """Token counts of one request, with the cached-input and reasoning details relays send."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Usage:
        """Read OpenAI usage, tolerating missing totals and Anthropic-style names."""
        prompt = int(data.get("prompt_tokens") or data.get("input_tokens") or 0)
        completion = int(data.get("completion_tokens") or data.get("output_tokens") or 0)
        total = int(data.get("total_tokens") or (prompt + completion))
        prompt_details = data.get("prompt_tokens_details") or {}
        completion_details = data.get("completion_tokens_details") or {}
        cached = prompt_details.get("cached_tokens") if isinstance(prompt_details, dict) else 0
        if not cached:
            cached = data.get("cache_read_input_tokens") or 0
        reasoning = (
            completion_details.get("reasoning_tokens")
            if isinstance(completion_details, dict)
            else 0
        )
        return cls(
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=total,
            cached_tokens=int(cached or 0),
            reasoning_tokens=int(reasoning or 0),
        )

    def to_wire(self) -> dict[str, Any]:
        """The OpenAI wire shape (what ``TokenCountingHandler`` and friends read)."""
        out: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.cached_tokens:
            out["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        if self.reasoning_tokens:
            out["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return out


class FunctionCall(_Wire):
    name: str = ""
    arguments: str = ""


class ToolCall(_Wire):
    id: str = ""
    type: str = "function"
    function: FunctionCall = Field(default_factory=FunctionCall)


class ChatMessage(_Wire):
    role: str = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    reasoning_content: str | None = None
    refusal: str | None = None


class Choice(_Wire):
    index: int = 0
    message: ChatMessage = Field(default_factory=ChatMessage)
    finish_reason: str | None = None
    logprobs: Any = None


class ChatCompletion(_Wire):
    """A non-streamed reply, in OpenAI wire names, plus what the client measured.

    ``cost_usd`` is None when the model's price is unknown (never 0 for unknown).
    """

    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    choices: list[Choice] = Field(default_factory=list)
    usage: Usage | None = None
    system_fingerprint: str | None = None
    request_id: str | None = None
    latency_ms: float = 0.0
    cost_usd: float | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False, exclude=True)

    @property
    def content(self) -> str:
        """Text of the first choice ('' if none)."""
        return (self.choices[0].message.content or "") if self.choices else ""


# --- stream chunks: slotted classes, no per-chunk validation -----------------------------


@dataclass(slots=True)
class ToolCallDelta:
    index: int | None
    id: str | None
    name: str | None
    arguments: str | None
    type: str | None = None


@dataclass(slots=True)
class Delta:
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    refusal: str | None = None


@dataclass(slots=True)
class ChunkChoice:
    index: int
    delta: Delta
    finish_reason: str | None = None
    logprobs: Any = None


@dataclass(slots=True)
class ChatChunk:
    """One streamed ``chat.completion.chunk`` (OpenAI chunk shape, attribute access)."""

    id: str
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    created: int = 0
    system_fingerprint: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"


# Delta keys the fast path of chunk_from_dict handles (anything else takes the full path).
_TEXT_DELTA_KEYS = frozenset({"role", "content", "refusal", "tool_calls"})


def _tool_call_delta(data: dict[str, Any]) -> ToolCallDelta:
    function = data.get("function") or {}
    index = data.get("index")
    return ToolCallDelta(
        index=index if isinstance(index, int) else None,
        id=data.get("id") or None,
        name=function.get("name") or None,
        arguments=function.get("arguments"),
        type=data.get("type"),
    )


def chunk_from_dict(data: dict[str, Any]) -> ChatChunk:
    """Build a chunk from parsed JSON; raises (KeyError/TypeError/AttributeError) on bad shape."""
    raw_choices = data.get("choices")
    if raw_choices and len(raw_choices) == 1 and not data.get("usage"):
        # Fast path, taken by nearly every chunk: one choice whose delta carries only text.
        c = raw_choices[0]
        d = c.get("delta")
        if d is not None and d.keys() <= _TEXT_DELTA_KEYS and not d.get("tool_calls"):
            return ChatChunk(
                id=data.get("id") or "",
                model=data.get("model") or "",
                choices=[
                    ChunkChoice(
                        index=c.get("index") or 0,
                        delta=Delta(
                            role=d.get("role"), content=d.get("content"), refusal=d.get("refusal")
                        ),
                        finish_reason=c.get("finish_reason"),
                        logprobs=c.get("logprobs"),
                    )
                ],
                created=data.get("created") or 0,
                system_fingerprint=data.get("system_fingerprint"),
                raw=data,
            )
    choices = []
    for c in data.get("choices") or ():
        d = c.get("delta") or {}
        raw_calls = d.get("tool_calls")
        reasoning = d.get("reasoning_content")
        if reasoning is None:
            reasoning = d.get("reasoning")
        choices.append(
            ChunkChoice(
                index=c.get("index") or 0,
                delta=Delta(
                    role=d.get("role"),
                    content=d.get("content"),
                    reasoning_content=reasoning if isinstance(reasoning, str) else None,
                    tool_calls=[_tool_call_delta(t) for t in raw_calls] if raw_calls else None,
                    refusal=d.get("refusal"),
                ),
                finish_reason=c.get("finish_reason"),
                logprobs=c.get("logprobs"),
            )
        )
    usage = data.get("usage")
    return ChatChunk(
        id=data.get("id") or "",
        model=data.get("model") or "",
        choices=choices,
        usage=Usage.from_wire(usage) if usage else None,
        created=data.get("created") or 0,
        system_fingerprint=data.get("system_fingerprint"),
        raw=data,
    )


def _limit(value: Any) -> int | None:
    """A published token limit as a positive int, or None for anything unusable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and value > 0 else None


class ModelInfo(_Wire):
    """One entry of ``GET /models``, with the limits the gateway publishes (if any).

    Gateways spell limits differently: LiteLLM sends ``max_input_tokens`` and
    ``max_output_tokens``, OpenRouter ``context_length`` and
    ``top_provider.max_completion_tokens``, others ``context_window`` or ``max_tokens``.
    All are kept; :attr:`input_limit` and :attr:`output_limit` read whichever is present.

    >>> info = ModelInfo.model_validate({"id": "gpt-4.1", "max_input_tokens": 1047576})
    >>> info.input_limit, info.output_limit
    (1047576, None)
    """

    id: str
    object: str = "model"
    created: int | None = None
    owned_by: str | None = None
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    context_length: int | None = None
    context_window: int | None = None
    max_tokens: int | None = None

    @field_validator(
        "max_input_tokens",
        "max_output_tokens",
        "context_length",
        "context_window",
        "max_tokens",
        mode="before",
    )
    @classmethod
    def _lenient_limit(cls, value: Any) -> int | None:
        return _limit(value)

    @property
    def input_limit(self) -> int | None:
        """Tokens of input the gateway says the model accepts (None: it did not say)."""
        return self.max_input_tokens or self.context_length or self.context_window

    @property
    def output_limit(self) -> int | None:
        """Tokens of output the gateway says the model can produce (None: it did not say)."""
        provider = getattr(self, "top_provider", None)
        nested = (
            _limit(provider.get("max_completion_tokens")) if isinstance(provider, dict) else None
        )
        return self.max_output_tokens or nested or self.max_tokens


class EmbeddingResult(_Wire):
    """Vectors in input order, with the model that produced them and usage."""

    vectors: list[list[float]]
    model: str = ""
    usage: Usage | None = None
    request_id: str | None = None
    latency_ms: float = 0.0
    cost_usd: float | None = None
