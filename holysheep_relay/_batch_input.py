"""Parse batch input lines (OpenAI Batch API format, or hand-written) into requests.

Pure functions: a line becomes a :class:`BatchRequest` to send or a :class:`BadLine` that
gets an error line in the output.

>>> parse_line('{"custom_id": "a", "prompt": "Hi"}', 1, "gpt-4.1").kind
'chat'
>>> parse_line("not json", 2, None).message
'line 2 is not JSON'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CHAT_URL", "EMBEDDINGS_URL", "BadLine", "BatchRequest", "custom_id_of", "parse_line"]

CHAT_URL = "/v1/chat/completions"
EMBEDDINGS_URL = "/v1/embeddings"
_URLS = {CHAT_URL: "chat", EMBEDDINGS_URL: "embeddings"}


@dataclass(frozen=True)
class BatchRequest:
    """One request to send: ``kind`` "chat" or "embeddings", ``params`` the rest of the body."""

    line: int
    custom_id: str
    kind: str
    model: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BadLine:
    """A line that cannot be sent; ``custom_id`` None when the line has none."""

    line: int
    custom_id: str | None
    message: str


def custom_id_of(text: str) -> str | None:
    """The line's ``custom_id`` when it is a JSON object with a non-empty string one."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    value = data.get("custom_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def _body(data: dict[str, Any], line: int) -> tuple[str, dict[str, Any]] | str:
    """(kind, body) of a line, or why it cannot be sent."""
    if "url" in data or "method" in data or "body" in data:
        url, method, body = data.get("url"), data.get("method"), data.get("body")
        if method != "POST":
            return f"line {line}: unsupported method {method!r} (only POST)"
        if url not in _URLS:
            return f"line {line}: unsupported url {url!r} (use {CHAT_URL} or {EMBEDDINGS_URL})"
        if not isinstance(body, dict):
            return f"line {line}: body must be a JSON object"
        return _URLS[url], dict(body)
    if "messages" in data:
        return "chat", {"messages": data["messages"]}
    if "prompt" in data:
        prompt = data["prompt"]
        if not isinstance(prompt, str):
            return f"line {line}: prompt must be a string"
        return "chat", {"messages": [{"role": "user", "content": prompt}]}
    return f"line {line}: no request (give url + body, messages or prompt)"


def _check(kind: str, body: dict[str, Any], line: int) -> str | None:
    if body.get("stream"):
        return f"line {line}: streamed requests are not supported in a batch"
    if kind == "chat":
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return f"line {line}: messages must be a non-empty list"
    elif "input" not in body:
        return f"line {line}: an embeddings body needs input"
    return None


def parse_line(text: str, line: int, default_model: str | None) -> BatchRequest | BadLine:
    """Line ``line`` (1-based) of the input as a request to send, or a :class:`BadLine`."""
    try:
        data = json.loads(text)
    except ValueError:
        return BadLine(line, None, f"line {line} is not JSON")
    if not isinstance(data, dict):
        return BadLine(line, None, f"line {line} is not a JSON object")
    custom_id = data.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return BadLine(line, None, f"line {line} has no custom_id")
    shaped = _body(data, line)
    if isinstance(shaped, str):
        return BadLine(line, custom_id, shaped)
    kind, body = shaped
    problem = _check(kind, body, line)
    if problem:
        return BadLine(line, custom_id, problem)
    model = body.pop("model", None) or default_model
    if not isinstance(model, str) or not model:
        return BadLine(line, custom_id, f"line {line}: no model (set it in the body or --model)")
    return BatchRequest(line, custom_id, kind, model, body)
