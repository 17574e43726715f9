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
    │   └── ServerError (5xx, also in-stream error events)
    ├── RelayTimeoutError
    ├── RelayConnectionError
    │   └── StreamInterruptedError (connection lost mid-stream, .partial_text)
    └── ProtocolError (malformed JSON body or chunk, unexpected reply)

Every error carries ``status_code``, ``code``, ``request_id`` and the relay's ``message``;
none contains the API key (``RelayError.__init__`` scrubs the configured keys and anything
key-like from its message and body).
Mapping from an HTTP reply to the most specific class happens in exactly one place:
:func:`error_from_response`.
"""

from __future__ import annotations

import difflib
import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
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
    "StreamInterruptedError",
    "error_from_body",
    "error_from_response",
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
    if not model:
        return []
    return difflib.get_close_matches(model, list(known), n=3, cutoff=0.6)


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
) -> RelayError:
    """Map a status code and a (parsed) error body to the most specific error."""
    message, code, etype, body_retry = _error_fields(body)
    if retry_after is None:
        retry_after = body_retry
    lowered = f"{code or ''} {etype or ''} {message or ''}".lower()
    cls: type[RelayError]
    if (
        code == "context_length_exceeded"
        or "context length" in lowered
        or ("prompt is too long" in lowered)
    ):
        cls = ContextLengthExceededError
    elif code == "model_not_found" or (
        status_code in (400, 404) and re.search(r"model\b.*\bnot (found|available|exist)", lowered)
    ):
        cls = ModelNotFoundError
    elif status_code is not None and status_code in _STATUS_CLASSES:
        cls = _STATUS_CLASSES[status_code]
        if cls is ModelNotFoundError:  # a 404 on a path, not a model: the base URL is wrong
            cls = BadRequestError
            if not message:
                message = "the relay answered 404: check HOLYSHEEP_BASE_URL (expected .../v1)"
    elif status_code is not None and status_code >= 500:
        cls = ServerError
    elif status_code is None:  # an error event inside a 200 stream
        cls = RateLimitError if "rate_limit" in lowered else ServerError
    elif "rate_limit" in lowered:
        cls = RateLimitError
    else:
        cls = APIStatusError
    if not message:
        snippet = raw_text.strip()[:200]
        if snippet.startswith("<"):  # an HTML error page from a proxy: keep only its title
            title = re.search(r"<title>(.*?)</title>", snippet, re.I | re.S)
            snippet = title.group(1).strip() if title else "HTML error page"
        message = f"relay returned HTTP {status_code}" + (f": {snippet}" if snippet else "")
    hint = _HINTS.get(cls)
    if hint:
        message = f"{message} ({hint})"
    kwargs: dict[str, Any] = {
        "status_code": status_code,
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
) -> RelayError:
    """Map an HTTP error reply (status and raw body bytes, JSON or not) to a typed error."""
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
    )
