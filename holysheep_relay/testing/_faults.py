"""Injectable faults: the kinds, a thread-safe FIFO queue and the canned error replies."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

__all__ = [
    "CONNECTION_KINDS",
    "ERROR_KINDS",
    "FAULT_KINDS",
    "STREAM_KINDS",
    "ErrorReply",
    "Fault",
    "FaultQueue",
    "api_error",
    "error_reply",
    "normalise_path",
]

ERROR_KINDS = frozenset(
    {
        "rate_limit",
        "server_error",
        "html_error",
        "status",
        "auth_error",
        "forbidden",
        "context_length",
        "reject_stream_options",
    }
)
CONNECTION_KINDS = frozenset({"reset_before", "slow_headers"})
STREAM_KINDS = frozenset(
    {
        "slow_stream",
        "reset_during_stream",
        "truncated_stream",
        "malformed_chunk",
        "error_chunk",
        "keepalive",
        "crlf",
        "split_bytes",
        "repeated_usage",
        "tool_index_shared",
        "tool_index_missing",
        "tool_repeat_id_name",
        "multi_line_data",
    }
)
FAULT_KINDS = ERROR_KINDS | CONNECTION_KINDS | STREAM_KINDS

HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
CONTEXT_LENGTH_MESSAGE = (
    "This model's maximum context length is 128000 tokens. However, your messages resulted"
    " in 130000 tokens."
)
UPSTREAM_ERROR = {
    "error": {"message": "upstream overloaded", "type": "server_error", "code": "upstream_error"}
}


def normalise_path(path: str) -> str:
    """``/v1/chat/completions`` -> ``/chat/completions`` (query string dropped)."""
    path = path.split("?", 1)[0]
    if path == "/v1" or path.startswith("/v1/"):
        path = path[3:] or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    return path or "/"


@dataclass
class Fault:
    """One queued fault; ``path`` ``None`` or ``"*"`` matches every path."""

    kind: str
    path: str | None
    params: dict[str, Any]
    remaining: int = 1

    def matches(self, path: str, body: Any) -> bool:
        if self.path not in (None, "*") and normalise_path(self.path) != path:
            return False
        if self.kind == "reject_stream_options":
            return isinstance(body, dict) and "stream_options" in body
        return True


@dataclass
class FaultQueue:
    """FIFO of faults; each matching request consumes one use of the first matching fault."""

    _faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take(self, path: str, body: Any) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(path, body):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> int:
        with self._lock:
            return sum(f.remaining for f in self._faults)


@dataclass
class ErrorReply:
    """A complete non-200 (or canned) HTTP reply."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


def api_error(
    status: int,
    message: str,
    error_type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> ErrorReply:
    """An OpenAI-shaped ``{"error": {...}}`` reply."""
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return ErrorReply(status, json.dumps(body).encode(), headers=headers or [])


def _rate_limit(params: dict[str, Any]) -> ErrorReply:
    headers: list[tuple[str, str]] = []
    retry_after = params.get("retry_after", None if "retry_after_ms" in params else 1)
    if retry_after is not None:
        if params.get("http_date"):
            value = formatdate(time.time() + float(retry_after), usegmt=True)
        else:
            value = str(retry_after)
        headers.append(("Retry-After", value))
    if params.get("retry_after_ms") is not None:
        headers.append(("retry-after-ms", str(params["retry_after_ms"])))
    style = params.get("body_style", "openai")
    body: dict[str, Any]
    if style == "bare":
        bare_after = retry_after if isinstance(retry_after, (int, float)) else 5
        body = {"error": "rate_limit_exceeded", "retry_after": bare_after}
    elif style == "anthropic":
        message = "Rate limit exceeded. Please retry after 60 seconds."
        body = {"error": {"type": "rate_limit_error", "message": message}}
    else:
        body = {
            "error": {
                "message": "Rate limit exceeded",
                "type": "rate_limit_error",
                "code": "rate_limit_exceeded",
            }
        }
    return ErrorReply(429, json.dumps(body).encode(), headers=headers)


def _generic(params: dict[str, Any]) -> ErrorReply:
    status = int(params.get("status", 400))
    body = params.get("body", {"error": {"message": f"HTTP {status}", "type": "api_error"}})
    headers = [(str(k), str(v)) for k, v in (params.get("headers") or {}).items()]
    if isinstance(body, (bytes, str)):
        raw = body.encode() if isinstance(body, str) else body
        return ErrorReply(status, raw, params.get("content_type", "text/plain"), headers)
    return ErrorReply(status, json.dumps(body).encode(), headers=headers)


def error_reply(kind: str, params: dict[str, Any]) -> ErrorReply:
    """The reply for an error-kind fault (see ``ERROR_KINDS``)."""
    if kind == "rate_limit":
        return _rate_limit(params)
    if kind == "server_error":
        body = {"error": {"message": "Internal server error", "type": "server_error"}}
        return ErrorReply(int(params.get("status", 500)), json.dumps(body).encode())
    if kind == "html_error":
        status = int(params.get("status", 502))
        return ErrorReply(status, HTML_502.encode(), "text/html")
    if kind == "status":
        return _generic(params)
    if kind == "auth_error":
        body = {"error": {"code": "invalid_api_key", "message": "Authentication failed"}}
        return ErrorReply(401, json.dumps(body).encode())
    if kind == "forbidden":
        message = params.get("message", "You do not have access to this resource.")
        return api_error(403, message, "permission_error", "forbidden")
    if kind == "context_length":
        return api_error(
            400, CONTEXT_LENGTH_MESSAGE, code="context_length_exceeded", param="messages"
        )
    if kind == "reject_stream_options":
        message = "Unrecognized request argument supplied: stream_options"
        return api_error(400, message, code="unsupported_parameter", param="stream_options")
    raise ValueError(f"not an error fault: {kind!r}")
