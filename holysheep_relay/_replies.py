"""Reading the relay's replies: JSON bodies, completions, model lists, embeddings (pure)."""

from __future__ import annotations

import base64
import json
import sys
from array import array
from collections.abc import Mapping
from typing import Any

from pydantic_core import from_json

from .errors import BadRequestError, ProtocolError, RelayError, ServerError, error_from_body
from .wire import ChatCompletion, EmbeddingResult, ModelInfo, Usage

__all__ = [
    "is_event_stream",
    "is_stream_options_rejection",
    "loads",
    "not_an_event_stream",
    "parse_completion",
    "parse_embeddings",
    "parse_json",
    "parse_models",
    "request_id_of",
]


def loads(data: str | bytes) -> Any:
    """Parse JSON with pydantic-core's parser (2-3x faster than ``json`` per stream chunk).

    Falls back to ``json`` for what pydantic-core rejects but ``json`` accepts (lone
    surrogate escapes), so both accept exactly the same documents.
    """
    try:
        return from_json(data)
    except ValueError:
        return json.loads(data)


def parse_json(content: bytes, what: str, request_id: str | None = None) -> Any:
    try:
        return loads(content)
    except ValueError as exc:
        snippet = content[:120].decode("utf-8", "replace")
        raise ProtocolError(
            f"the relay sent a {what} that is not valid JSON: {snippet!r}",
            request_id=request_id,
        ) from exc


def parse_completion(data: Any, request_id: str | None) -> ChatCompletion:
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        if isinstance(data, dict) and "error" in data:
            raise error_from_body(None, data, request_id=request_id)
        raise ProtocolError(
            "the relay's reply has no 'choices' list; is the base URL an OpenAI-compatible "
            "endpoint?",
            request_id=request_id,
        )
    for choice in data["choices"]:
        msg = choice.get("message") if isinstance(choice, dict) else None
        if (
            isinstance(msg, dict)
            and msg.get("reasoning_content") is None
            and isinstance(msg.get("reasoning"), str)
        ):
            choice["message"] = {**msg, "reasoning_content": msg["reasoning"]}
    usage = data.get("usage")
    try:
        completion = ChatCompletion.model_validate(
            {**data, "usage": Usage.from_wire(usage) if isinstance(usage, dict) else None}
        )
    except (ValueError, TypeError) as exc:
        raise ProtocolError(
            f"the relay's reply does not have the chat.completion shape: {exc}",
            request_id=request_id,
        ) from exc
    for choice in completion.choices:
        if choice.finish_reason == "error":  # as in a stream: never a silently cut answer
            raise ServerError(
                "the relay ended the reply with finish_reason='error'",
                request_id=request_id,
                code="error",
                partial_text=choice.message.content or "",
            )
    completion.raw = data
    completion.request_id = request_id
    return completion


# Where gateways put the request id: OpenAI and most relays ``x-request-id``, Anthropic
# ``request-id``, LiteLLM ``x-litellm-call-id``, AWS ``x-amzn-requestid``.
_REQUEST_ID_HEADERS = (
    "x-request-id",
    "request-id",
    "x-litellm-call-id",
    "x-amzn-requestid",
    "x-correlation-id",
)


_FALLBACK_ORDER = {name: rank for rank, name in enumerate(_REQUEST_ID_HEADERS[1:])}


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The request id from the first header that carries one (``headers`` case-insensitive,
    with lower-case ``items()``, as httpx's are)."""
    value = headers.get("x-request-id")
    if value:
        return value
    found = [
        (_FALLBACK_ORDER[name], value)
        for name, value in headers.items()
        if value and name in _FALLBACK_ORDER
    ]
    return min(found)[1] if found else None


def is_event_stream(content_type: str) -> bool:
    """False for replies to a stream request that certainly are not SSE (JSON or HTML).

    Anything else (``text/event-stream``, a missing or generic type) is decoded as SSE.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    return not (media in ("application/json", "text/html") or media.endswith("+json"))


def not_an_event_stream(content_type: str, content: bytes, request_id: str | None) -> RelayError:
    """The error for a 200 reply to a stream request whose body is JSON or HTML."""
    text = content.decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        return error_from_body(None, body, request_id=request_id, raw_text=text)
    return ProtocolError(
        f"the relay answered a stream request with {content_type or 'no content type'} "
        f"instead of an event stream: {text.strip()[:120]!r}; check the base URL "
        "(expected .../v1), or use chat() if this relay cannot stream",
        request_id=request_id,
    )


def is_stream_options_rejection(error: RelayError) -> bool:
    """True for a 400 that says the relay does not support ``stream_options``."""
    if not isinstance(error, BadRequestError):
        return False
    body = error.body if isinstance(error.body, dict) else {}
    err = body.get("error")
    if not isinstance(err, dict):
        err = {}
    return "stream_options" in error.message or err.get("param") == "stream_options"


def parse_models(data: Any, request_id: str | None) -> list[ModelInfo]:
    items = data.get("data") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ProtocolError("the relay's /models reply has no 'data' list", request_id=request_id)
    try:
        return [ModelInfo.model_validate(m) for m in items]
    except (ValueError, TypeError) as exc:
        raise ProtocolError(f"bad /models entry: {exc}", request_id=request_id) from exc


def _decode_vector(value: Any) -> list[float]:
    if isinstance(value, str):  # base64 little-endian float32
        floats = array("f")
        floats.frombytes(base64.b64decode(value))
        if sys.byteorder == "big":
            floats.byteswap()
        return floats.tolist()
    if isinstance(value, list):
        return [float(x) for x in value]
    raise TypeError(f"embedding is neither a list nor base64: {type(value).__name__}")


def parse_embeddings(data: Any, request_id: str | None, expected: int) -> EmbeddingResult:
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ProtocolError(
            "the relay's /embeddings reply has no 'data' list", request_id=request_id
        )
    try:
        ordered = sorted(items, key=lambda d: d.get("index", 0))
        vectors = [_decode_vector(d["embedding"]) for d in ordered]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProtocolError(f"bad /embeddings entry: {exc}", request_id=request_id) from exc
    if len(vectors) != expected:
        raise ProtocolError(
            f"asked for {expected} embeddings, the relay returned {len(vectors)}",
            request_id=request_id,
        )
    usage = data.get("usage")
    return EmbeddingResult(
        vectors=vectors,
        model=str(data.get("model") or ""),
        usage=Usage.from_wire(usage) if isinstance(usage, dict) else None,
        request_id=request_id,
    )
