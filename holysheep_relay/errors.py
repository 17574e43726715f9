"""Typed errors for everything that can go wrong between us and the relay.

The hierarchy::

    RelayError
    ├── ConfigurationError (also ValueError)   bad key / base URL, raised before any I/O
    ├── InvalidInputError (also ValueError)    bad request arguments, raised before any I/O
    ├── APIStatusError                          the relay answered with an HTTP error
    │   ├── BadRequestError (400)
    │   │   └── ContextLengthExceededError
    │   ├── AuthenticationError (401)
    │   ├── PermissionDeniedError (403)
    │   ├── ModelNotFoundError (404 / model_not_found)
    │   ├── RateLimitError (429, .retry_after)
    │   └── ServerError (5xx, and in-stream error frames naming no status)
    ├── BudgetExceededError                    a SpendBudget refused a call, before sending
    ├── StoreUnavailableError                  Redis (shared limits, budget) is unreachable
    ├── RelayTimeoutError
    ├── RelayConnectionError
    │   └── StreamInterruptedError (connection lost mid-stream, .partial_text)
    └── ProtocolError (malformed JSON body or chunk, unexpected reply)

Every error carries ``status_code``, ``code``, ``request_id`` and the relay's ``message``;
none contains the API key (``RelayError.__init__`` scrubs the configured keys and anything
key-like from its message and body).
HTTP replies and error frames inside a 200 stream are classified by one function,
:func:`error_from_body` (a frame by the status its ``code`` or ``type`` names), so a 429
frame is a ``RateLimitError`` exactly like a 429 reply, and is retried the same way.
"""

from __future__ import annotations

import difflib
import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from .catalog import resolve_model

__all__ = [
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ConfigurationError",
    "ContextLengthExceededError",
    "InvalidInputError",
    "ModelNotFoundError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "RelayConnectionError",
    "RelayError",
    "RelayTimeoutError",
    "ServerError",
    "StoreUnavailableError",
    "StreamInterruptedError",
    "error_from_body",
    "error_from_response",
    "named_status",
    "register_secret",
    "scrub_secrets",
]

# Bearer tokens and the key shapes the relay hands out (hs_..., sk-...). Used to make sure a
# message copied from a reply (or from a user's own exception) can never leak a key.
_KEY_PATTERN = re.compile(r"(?i)(bearer\s+)[^\s\"',]+|\b(?:hs|sk)[-_][A-Za-z0-9_\-]{8,}")


# Every key a client was configured with (keys of any shape, not only hs_/sk-): replaced
# wherever a relay echoes them. A tuple swapped whole, so readers never need a lock.
_configured_keys: tuple[str, ...] = ()
_keys_lock = threading.Lock()


def register_secret(secret: str) -> None:
    """Remember a configured key: no error message or body will ever show it."""
    global _configured_keys
    if len(secret) >= 8 and secret not in _configured_keys:
        with _keys_lock:
            if secret not in _configured_keys:
                _configured_keys = (*_configured_keys, secret)


def scrub_secrets(text: str, *secrets: str) -> str:
    """Return ``text`` with known secrets and anything key-shaped replaced by ``***``."""
    for secret in (*secrets, *_configured_keys):
        if secret and secret in text:
            text = text.replace(secret, "***")
    return _KEY_PATTERN.sub(lambda m: (m.group(1) or "") + "***", text)


def _scrub_body(body: Any) -> Any:
    """``body`` (parsed JSON) with every string scrubbed."""
    if isinstance(body, str):
        return scrub_secrets(body)
    if isinstance(body, Mapping):
        return {k: _scrub_body(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_scrub_body(v) for v in body]
    return body


class RelayError(Exception):
    """Base class of every error raised by holysheep_relay and its adapters."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        body: Any = None,
        partial_text: str = "",
    ) -> None:
        self.message = scrub_secrets(message)
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.body = _scrub_body(body)
        self.partial_text = partial_text
        super().__init__(self.message)

    def __str__(self) -> str:
        extras = []
        if self.status_code is not None:
            extras.append(f"status={self.status_code}")
        if self.code:
            extras.append(f"code={self.code}")
        if self.request_id:
            extras.append(f"request_id={self.request_id}")
        return f"{self.message} ({', '.join(extras)})" if extras else self.message


class ConfigurationError(RelayError, ValueError):
    """The client configuration is unusable (missing key, bad base URL...)."""


class InvalidInputError(RelayError, ValueError):
    """The arguments of a call are invalid; nothing was sent."""


class APIStatusError(RelayError):
    """The relay answered with an HTTP error status."""


class BadRequestError(APIStatusError):
    """400: the relay rejected the request; fix the request, retrying will not help."""


class ContextLengthExceededError(BadRequestError):
    """The prompt plus ``max_tokens`` does not fit the model's context window."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, wrong or revoked. Check ``HOLYSHEEP_API_KEY``."""


class PermissionDeniedError(APIStatusError):
    """403: the key is valid but may not use this model or endpoint."""


class ModelNotFoundError(APIStatusError):
    """The relay does not serve this model id; ``suggestions`` lists close matches."""

    def __init__(self, message: str, *, suggestions: list[str] | None = None, **kw: Any):
        self.suggestions = suggestions or []
        if self.suggestions:
            message = f"{message}. Did you mean: {', '.join(self.suggestions)}?"
        super().__init__(message, **kw)


class RateLimitError(APIStatusError):
    """429: too many requests or tokens; ``retry_after`` is the relay's hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any):
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ServerError(APIStatusError):
    """5xx, or an error event inside a stream: the relay or the upstream model failed."""


class BudgetExceededError(RelayError):
    """A :class:`~holysheep_relay.SpendBudget` cannot cover this call's worst-case cost; it
    was not sent. ``budget_usd``, ``spent_usd`` (settled plus reserved by calls in flight) and
    ``needed_usd`` (this call's worst case) say by how much; ``period`` and ``resets_at`` when
    the budget starts again."""

    def __init__(
        self,
        message: str,
        *,
        budget_usd: float,
        spent_usd: float,
        needed_usd: float,
        period: str | None = None,
        resets_at: str | None = None,
        **kw: Any,
    ) -> None:
        self.budget_usd = budget_usd
        self.spent_usd = spent_usd
        self.needed_usd = needed_usd
        self.period = period
        self.resets_at = resets_at
        super().__init__(message, code="budget_exceeded", **kw)


class StoreUnavailableError(RelayError):
    """The Redis server holding shared limits or a budget could not be reached (or timed
    out) and the policy is ``on_store_error="closed"``: the call was not sent."""


class RelayTimeoutError(RelayError):
    """A connect, read (idle gap) or total deadline expired."""


class RelayConnectionError(RelayError):
    """The relay could not be reached, or the connection was dropped."""


class StreamInterruptedError(RelayConnectionError):
    """A stream ended before it was complete; ``partial_text`` holds what arrived."""


class ProtocolError(RelayError):
    """The relay's reply could not be understood (malformed JSON, wrong shape)."""


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: ModelNotFoundError,
    422: BadRequestError,
    429: RateLimitError,
}

_HINTS: dict[type[RelayError], str] = {
    AuthenticationError: "check that HOLYSHEEP_API_KEY holds a valid relay key",
    PermissionDeniedError: "this key may not use this model or endpoint",
    ContextLengthExceededError: "shorten the messages or lower max_tokens",
    RateLimitError: "slow down (see requests_per_minute / tokens_per_minute) or retry later",
}


def _error_fields(body: Any) -> tuple[str | None, str | None, str | None, float | None]:
    """Pull (message, code, type, retry_after) out of any of the error shapes relays use."""
    message = code = etype = None
    retry_after: float | None = None
    if isinstance(body, Mapping):
        err = body.get("error", body)
        if isinstance(err, str):  # {"error": "rate_limit_exceeded", "retry_after": 5}
            code = err
            message = str(body.get("message") or err)
        elif isinstance(err, Mapping):
            raw_message = err.get("message") or err.get("msg") or err.get("detail")
            message = str(raw_message) if raw_message is not None else None
            raw_code = err.get("code")
            code = str(raw_code) if raw_code is not None else None
            raw_type = err.get("type")
            etype = str(raw_type) if raw_type is not None else None
        raw_retry = body.get("retry_after")
        if isinstance(raw_retry, (int, float)) and not isinstance(raw_retry, bool):
            retry_after = float(raw_retry)
    return message, code, etype, retry_after


def _close_matches(model: str | None, known: Iterable[str]) -> list[str]:
    """Up to 3 ids like ``model`` (never ``model`` itself); a catalog alias's id first."""
    if not model:
        return []
    pool = [k for k in dict.fromkeys(known) if k != model]
    target = resolve_model(model)
    first = [target] if target != model else []
    return list(dict.fromkeys(first + difflib.get_close_matches(model, pool, n=3, cutoff=0.6)))[:3]


# An error's ``type`` (OpenAI, Anthropic and LiteLLM spellings) -> the HTTP status it names.
# Used when there is no HTTP status to go by: an error frame inside a 200 stream.
_TYPE_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "permission_denied": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "throttling_error": 429,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "api_error": 500,
    "server_error": 500,
    "internal_server_error": 500,
    "service_unavailable": 503,
    "overloaded_error": 529,
}

# Message fragments (lower case) naming a status, for frames with neither code nor type.
_MESSAGE_STATUS: tuple[tuple[str, int], ...] = (
    ("ratelimiterror", 429),
    ("rate limit", 429),
    ("too many requests", 429),
    ("overloaded", 529),
    ("serviceunavailableerror", 503),
    ("internalservererror", 500),
    ("authenticationerror", 401),
    ("permissiondeniederror", 403),
    ("badrequesterror", 400),
    ("timeout", 408),
)

# Context-window overflow, as each upstream words it (lower case; matched on code, type and
# message together). Sources: OpenAI ``context_length_exceeded`` / "maximum context
# length" (also DeepSeek, vLLM and OpenRouter, which reuse OpenAI's wording), "exceeds the
# context window" (OpenAI Responses API); Anthropic "prompt is too long"; Gemini "exceeds
# the maximum number of tokens"; LiteLLM ``ContextWindowExceededError``; Bedrock "input is
# too long"; Mistral "too large for model with ... maximum context length".
_CONTEXT_PATTERNS: tuple[str, ...] = (
    "context_length_exceeded",
    "context_window_exceeded",
    "contextwindowexceedederror",
    "maximum context length",
    "context length",
    "exceeds the context window",
    "prompt is too long",
    "exceeds the maximum number of tokens",
    "input is too long",
    "too many input tokens",
)

_MODEL_NOT_FOUND = re.compile(
    r"model_not_found|invalid model (name|id)|unknown model|no such model|"
    r"not_found_error model: |"  # Anthropic: 404 not_found_error "model: <id>"
    r"model\b.*\b(not (found|available|exist|supported)|does not exist|is not valid)"
)


def _wrong_path_hint(url: str | None) -> str:
    where = f"the relay has no {url}" if url else "the relay has no such path"
    return (
        f"{where}: check base_url / HOLYSHEEP_BASE_URL, which usually ends in /v1, "
        "e.g. https://api.holysheep.ai/v1"
    )


def _status_from_code(code: str | None) -> int | None:
    """An error ``code`` that is an HTTP status ("429", 429) as an int, else None."""
    if code is not None and len(code) == 3 and code.isdigit() and code[0] in "12345":
        return int(code)
    return None


def named_status(code: str | None, etype: str | None, message: str | None) -> int | None:
    """The HTTP status an error body names by its code, else its type, else its message."""
    status = _status_from_code(code)
    if status is None and etype:
        status = _TYPE_STATUS.get(etype.lower())
    if status is None and code:
        status = _TYPE_STATUS.get(code.lower())
    if status is None and message:
        lowered = message.lower()
        status = next((st for frag, st in _MESSAGE_STATUS if frag in lowered), None)
    return status


def _classify(status: int | None, code: str | None, lowered: str) -> type[RelayError]:
    """The most specific class for an error with this (possibly named) status and text."""
    if any(pattern in lowered for pattern in _CONTEXT_PATTERNS):
        return ContextLengthExceededError
    if code == "model_not_found" or (
        status in (400, 404, None) and _MODEL_NOT_FOUND.search(lowered)
    ):
        return ModelNotFoundError
    if status is None:
        return ServerError  # an error frame naming nothing: the upstream failed
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    if status >= 500:
        return ServerError
    return RateLimitError if "rate_limit" in lowered else APIStatusError


def error_from_body(
    status_code: int | None,
    body: Any,
    *,
    request_id: str | None = None,
    retry_after: float | None = None,
    model: str | None = None,
    known_models: Iterable[str] = (),
    raw_text: str = "",
    partial_text: str = "",
    url: str | None = None,
) -> RelayError:
    """Map a status code and a (parsed) error body to the most specific error.

    A 404 that names no model is a path the relay does not have: a ``BadRequestError``
    saying to check the base URL, with ``url`` (the address requested, without the key) in
    its message.

    ``status_code`` None means an error frame inside a 200 stream: the frame is classified
    by the status its ``code`` names ("429"), else its ``type`` (``throttling_error``,
    ``overloaded_error``...), else its message, exactly as an HTTP reply with that status
    would be; the error's ``status_code`` is then that named status (None if it names none).
    """
    message, code, etype, body_retry = _error_fields(body)
    if retry_after is None:
        retry_after = body_retry
    lowered = f"{code or ''} {etype or ''} {message or ''}".lower()
    status = status_code
    if status is None:
        status = named_status(code, etype, message)
    cls = _classify(status, code, lowered)
    wrong_path = cls is ModelNotFoundError and not _MODEL_NOT_FOUND.search(lowered)
    if wrong_path:
        cls = BadRequestError  # a 404 on a path, not a model: the base URL is wrong
    if not message:
        snippet = raw_text.strip()[:200]
        if snippet.startswith("<"):  # an HTML error page from a proxy: keep only its title
            title = re.search(r"<title>(.*?)</title>", snippet, re.I | re.S)
            snippet = title.group(1).strip() if title else "HTML error page"
        message = f"relay returned HTTP {status_code}" + (f": {snippet}" if snippet else "")
    hint = _HINTS.get(cls)
    if wrong_path and status_code == 404:  # an HTTP reply, not a frame inside a stream
        hint = _wrong_path_hint(url)
    if hint:
        message = f"{message} ({hint})"
    kwargs: dict[str, Any] = {
        "status_code": status,
        "code": code or etype,
        "request_id": request_id,
        "body": body,
        "partial_text": partial_text,
    }
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=retry_after, **kwargs)
    if cls is ModelNotFoundError:
        return ModelNotFoundError(
            message, suggestions=_close_matches(model, known_models), **kwargs
        )
    return cls(message, **kwargs)


def error_from_response(
    status_code: int,
    content: bytes,
    *,
    request_id: str | None = None,
    retry_after: float | None = None,
    model: str | None = None,
    known_models: Iterable[str] = (),
    url: str | None = None,
) -> RelayError:
    """Map an HTTP error reply (status and raw body bytes, JSON or not) to a typed error;
    ``url`` is the address that was requested (named in a wrong-path 404's message)."""
    text = content.decode("utf-8", "replace")
    try:
        body: Any = json.loads(text) if text.strip() else None
    except ValueError:
        body = None
    return error_from_body(
        status_code,
        body,
        request_id=request_id,
        retry_after=retry_after,
        model=model,
        known_models=known_models,
        raw_text=text,
        url=url,
    )
