"""Request bodies of ``/chat/completions`` and ``/embeddings`` (pure; raise before any I/O)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ._validate import check_messages, check_model, check_range, check_tools
from .errors import InvalidInputError

__all__ = [
    "build_chat_body",
    "build_embed_body",
    "estimate_tokens",
    "input_token_bound",
    "output_token_bound",
]

_RESERVED = frozenset({"stream", "stream_options", "model", "messages"})


def build_chat_body(
    model: str,
    messages: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
    *,
    stream: bool,
    include_usage: bool,
) -> dict[str, Any]:
    """The JSON body of ``POST /chat/completions``; raises InvalidInputError before I/O."""
    check_model(model)
    check_messages(messages)
    reserved = _RESERVED.intersection(params)
    if reserved:
        raise InvalidInputError(
            f"{sorted(reserved)} cannot be passed as parameters; use chat() or stream_chat()"
        )
    check_range("temperature", params.get("temperature"), 0, 2)
    check_range("top_p", params.get("top_p"), 0, 1)
    for name in ("max_tokens", "max_completion_tokens", "n"):
        value = params.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidInputError(f"{name} must be an integer, got {value!r}")
        check_range(name, value, 1, None)
    body: dict[str, Any] = {"model": model, "messages": list(messages)}
    extra = params.get("extra_body")
    for key, value in params.items():
        if value is not None and key != "extra_body":
            body[key] = value
    if stream:
        body["stream"] = True
        if include_usage:
            body["stream_options"] = {"include_usage": True}
    if extra:
        body.update(extra)
    check_tools(body.get("tools"))  # after extra_body, which may carry them too
    return body


def estimate_tokens(body: Mapping[str, Any], chars: int) -> int:
    """A cheap estimate (4 chars per token, plus the output budget) for rate limiting."""
    if body.get("tools"):
        chars += len(str(body["tools"]))
    out = body.get("max_tokens") or body.get("max_completion_tokens") or 0
    return chars // 4 + 1 + int(out)


def build_embed_body(
    model: str, inputs: str | Sequence[str], params: Mapping[str, Any]
) -> dict[str, Any]:
    check_model(model)
    items = [inputs] if isinstance(inputs, str) else list(inputs)
    if not items:
        raise InvalidInputError("input is empty: pass at least one text to embed")
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise InvalidInputError(f"input[{i}] must be a string, got {type(text).__name__}")
        if not text:
            raise InvalidInputError(f"input[{i}] is an empty string; the relay rejects those")
    dims = params.get("dimensions")
    if dims is not None and (isinstance(dims, bool) or not isinstance(dims, int) or dims < 1):
        raise InvalidInputError(f"dimensions must be a positive integer, got {dims!r}")
    body: dict[str, Any] = {"model": model, "input": items}
    body["encoding_format"] = "float"
    body.update({k: v for k, v in params.items() if v is not None})
    return body


# Upper bounds for a SpendBudget's worst case. Every tokenizer the relay's models use
# (byte-level BPE, SentencePiece with byte fallback) makes each token from at least one byte,
# so UTF-8 bytes bound text tokens; chat templates add a few tokens per message, tool use a
# hidden system prompt (Anthropic documents ~350 tokens), and no model counts an image at
# more than a few thousand tokens after its own resizing.
_MESSAGE_TOKENS = 8
_TOOLS_TOKENS = 600
_IMAGE_TOKENS = 3_000
_IMAGE_PARTS = frozenset({"image_url", "input_image", "image"})
# Fields that never reach the model's prompt (every other field is counted, tools and
# response_format schemas included).
_NOT_PROMPT = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "max_tokens",
        "max_completion_tokens",
        "n",
        "temperature",
        "top_p",
        "seed",
        "stop",
        "user",
        "logprobs",
        "top_logprobs",
        "presence_penalty",
        "frequency_penalty",
        "parallel_tool_calls",
        "encoding_format",
        "dimensions",
    }
)


def _part_bound(part: Any) -> int:
    if isinstance(part, str):
        return len(part.encode())
    if isinstance(part, Mapping) and part.get("type") in _IMAGE_PARTS:
        return _IMAGE_TOKENS
    if isinstance(part, Mapping) and isinstance(part.get("text"), str):
        return len(part["text"].encode()) + _MESSAGE_TOKENS
    return len(json.dumps(part, default=str).encode())


def input_token_bound(body: Mapping[str, Any]) -> int:
    """At most how many input tokens ``body`` (chat or embeddings) can be billed for."""
    if "input" in body and "messages" not in body:
        items = body["input"]
        return sum(_part_bound(item) + 1 for item in items)
    total = 0
    for message in body.get("messages", ()):
        total += _MESSAGE_TOKENS
        for key, value in message.items() if isinstance(message, Mapping) else ():
            if key == "content" and isinstance(value, list):
                total += sum(_part_bound(part) for part in value)
            elif key != "role":
                total += _part_bound(value)
    rest = {k: v for k, v in body.items() if k not in _NOT_PROMPT}
    if rest:
        total += len(json.dumps(rest, default=str).encode())
    if body.get("tools") or body.get("functions"):
        total += _TOOLS_TOKENS
    return total


def output_token_bound(body: Mapping[str, Any], model_max_output: int | None) -> int | None:
    """At most how many output tokens ``body`` can be billed for: its ``max_tokens`` (or
    ``max_completion_tokens``), else ``model_max_output``, times ``n``; 0 for embeddings;
    None when nothing bounds it."""
    if "messages" not in body:
        return 0
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or model_max_output
    if not limit:
        return None
    choices = body.get("n") or 1
    return int(limit) * int(choices)
