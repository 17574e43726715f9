"""Error mapping: every status and body shape the relay is known to send."""

from __future__ import annotations

import json

import pytest

from holysheep_relay import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ContextLengthExceededError,
    ModelNotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RelayError,
    ServerError,
)
from holysheep_relay.errors import error_from_response, scrub_secrets


def err(status: int, body: object, **kw: object) -> RelayError:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return error_from_response(status, raw, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "body", "cls", "code"),
    [
        (
            401,
            {"error": {"code": "invalid_api_key", "message": "Authentication failed"}},
            AuthenticationError,
            "invalid_api_key",
        ),
        (
            401,
            {"error": {"type": "authentication_error", "message": "Invalid API key provided"}},
            AuthenticationError,
            "authentication_error",
        ),
        (
            403,
            {"error": {"message": "not allowed", "type": "permission_error"}},
            PermissionDeniedError,
            "permission_error",
        ),
        (
            404,
            {
                "error": {
                    "code": "model_not_found",
                    "message": "Model 'claude-opus-4' not available",
                }
            },
            ModelNotFoundError,
            "model_not_found",
        ),
        (
            400,
            {
                "error": {
                    "type": "invalid_request_error",
                    "message": "Model 'claude-haiku-4' not found. Available models: x",
                }
            },
            ModelNotFoundError,
            "invalid_request_error",
        ),
        (
            400,
            {"error": {"message": "bad", "type": "invalid_request_error", "param": "x"}},
            BadRequestError,
            "invalid_request_error",
        ),
        (
            400,
            {
                "error": {
                    "message": "This model's maximum context length is 4097 tokens.",
                    "type": "invalid_request_error",
                    "code": "context_length_exceeded",
                }
            },
            ContextLengthExceededError,
            "context_length_exceeded",
        ),
        (
            429,
            {"error": "rate_limit_exceeded", "retry_after": 5},
            RateLimitError,
            "rate_limit_exceeded",
        ),
        (
            429,
            {
                "error": {
                    "type": "rate_limit_error",
                    "message": "Rate limit exceeded. Please retry after 60 seconds.",
                }
            },
            RateLimitError,
            "rate_limit_error",
        ),
        (500, {"error": {"message": "boom", "type": "server_error"}}, ServerError, "server_error"),
        (418, {"error": {"message": "teapot"}}, APIStatusError, None),
    ],
)
def test_status_and_body_map_to_the_specific_error(
    status: int, body: object, cls: type[RelayError], code: str | None
) -> None:
    error = err(status, body, request_id="req_1")
    assert type(error) is cls
    assert error.status_code == status
    assert error.code == code
    assert error.request_id == "req_1"
    assert "req_1" in str(error)


def test_context_length_is_a_bad_request() -> None:
    error = err(400, {"error": {"code": "context_length_exceeded", "message": "too long"}})
    assert isinstance(error, BadRequestError)
    assert "shorten" in str(error)


def test_bare_string_rate_limit_reads_retry_after_from_body() -> None:
    error = err(429, {"error": "rate_limit_exceeded", "retry_after": 5})
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 5.0


def test_header_retry_after_wins_over_body() -> None:
    error = err(429, {"error": "rate_limit_exceeded", "retry_after": 5}, retry_after=2.0)
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 2.0


def test_html_502_page_becomes_server_error_with_its_title() -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    error = err(502, page)
    assert isinstance(error, ServerError)
    assert "502 Bad Gateway" in str(error)
    assert "<html>" not in str(error)


def test_model_not_found_suggests_close_matches() -> None:
    error = err(
        404,
        {"error": {"code": "model_not_found", "message": "Model 'claude-opus-4.6b' not available"}},
        model="claude-opus-4.6b",
        known_models=["claude-opus-4.6", "gpt-4.1", "claude-opus-4.7"],
    )
    assert isinstance(error, ModelNotFoundError)
    assert error.suggestions[0] == "claude-opus-4.6"
    assert "Did you mean" in str(error)


def test_404_without_model_code_is_a_wrong_base_url_hint() -> None:
    error = err(404, b"")
    assert type(error) is BadRequestError
    assert "HOLYSHEEP_BASE_URL" in str(error)


def test_key_like_text_in_a_relay_message_is_scrubbed() -> None:
    body = {
        "error": {"message": "Invalid key hs_fake_live_abcdefghijklmnop1234 (Bearer sk-zzzzzzzz)"}
    }
    error = err(401, body)
    assert "hs_fake_live_abcdefghijklmnop1234" not in str(error)
    assert "sk-zzzzzzzz" not in str(error)
    assert "***" in str(error)


def test_scrub_secrets_replaces_given_secret() -> None:
    assert scrub_secrets("key=abc123def", "abc123def") == "key=***"
