"""Request bodies of ``/chat/completions`` and ``/embeddings`` (pure; raise before any I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._validate import check_messages, check_model, check_range
from .errors import InvalidInputError

__all__ = [
    "build_chat_body",
    "build_embed_body",
    "estimate_tokens",
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
