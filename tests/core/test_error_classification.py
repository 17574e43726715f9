"""HTTP error bodies -> typed errors, through the clients (sync and async) over MockTransport.

Real bodies come from the shared wire reference (``../shared/reference`` beside the
checkout), read at test time; the rest are gateway bodies quoted verbatim (LiteLLM, Gemini,
DeepSeek, OpenRouter). Every row also checks the error is not retried (one request).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from holysheep_relay import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ContextLengthExceededError,
    ModelNotFoundError,
    RateLimitError,
    RelayError,
    served,
)

from .helpers import USER, Runner

both = pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])

REFERENCE = Path(__file__).parents[2] / ".." / "shared" / "reference"


def reference_dir() -> Path:
    """The shared reference data; a missing copy fails under CI and skips elsewhere."""
    if not REFERENCE.is_dir():
        message = f"wire reference data not found at {REFERENCE.resolve()}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must provide shared/ beside the checkout)")
        pytest.skip(message)
    return REFERENCE


def reference_response(name: str, index: int = 0) -> tuple[int, dict[str, str], Any]:
    """(status, headers, parsed JSON body) of a recorded reply, e.g. ``openai/...json``."""
    data = json.loads((reference_dir() / name).read_text(encoding="utf-8"))
    response = data["exchanges"][index]["response"]
    headers = {k: v for k, v in response["headers"].items() if isinstance(v, str)}
    headers.pop("content-length", None)  # bodies are re-serialised: let httpx set it
    headers.pop("transfer-encoding", None)
    headers.pop("content-encoding", None)
    return int(response["status"]), headers, response["body"]["json"]


def reported_context_bodies() -> list[Any]:
    """OpenAI chat-completions context_length_exceeded bodies reported in public issues."""
    path = reference_dir() / "openai" / "reported-context-length-bodies.json"
    items = json.loads(path.read_text(encoding="utf-8"))["items"]
    return [item["body"] if "body" in item else json.loads(item["body_raw"]) for item in items]


class Replies:
    """A MockTransport handler answering every request with a fresh copy of one reply."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or {}
        self.listing: Any = {"object": "list", "data": []}  # the reply to GET /models
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json=self.listing)
        return httpx.Response(self.status, json=self.body, headers=self.headers)


def chat_error(sync: bool, replies: Replies, *, model: str = "gpt-4.1", **kw: Any) -> RelayError:
    """The error ``chat`` raises (retries allowed: rows check that nothing was retried)."""
    kw.setdefault("max_retries", 2)
    kw.setdefault("base_url", "http://127.0.0.1:9/v1")
    runner = Runner(sync, replies, **kw)
    with pytest.raises(RelayError) as info:
        runner.chat(model=model, messages=USER)
    return info.value


@pytest.fixture
def relay_url() -> Iterator[str]:
    """A base URL of this test's own (the /models registry is process-wide per URL)."""
    url = f"http://127.0.0.1:9/{uuid.uuid4().hex}/v1"
    served.forget(url)
    yield url
    served.forget(url)


# -- context-window overflow, as each upstream words it ---------------------------------

GEMINI = {
    "error": {
        "code": 400,
        "message": "The input token count (1200000) exceeds the maximum number of tokens "
        "allowed (1048576).",
        "status": "INVALID_ARGUMENT",
    }
}
DEEPSEEK = {
    "error": {
        "message": "This model's maximum context length is 65536 tokens. However, you requested "
        "70000 tokens (70000 in the messages, 0 in the completion). Please reduce the length "
        "of the messages or completion.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_request_error",
    }
}
LITELLM = {
    "error": {
        "message": "litellm.ContextWindowExceededError: litellm.BadRequestError: "
        "ContextWindowExceededError: OpenAIException - Input tokens exceed the configured "
        "limit of 272000 tokens. Received Model Group=gpt-5\nAvailable Model Group "
        "Fallbacks=None",
        "type": None,
        "param": None,
        "code": "400",
    }
}
OPENROUTER = {
    "error": {
        "message": "This endpoint's maximum context length is 128000 tokens. However, you "
        "requested about 130512 tokens (130512 of text input). Please reduce the length of "
        'either one, or use the "middle-out" transform to compress your prompt automatically.',
        "code": 400,
    }
}

QUOTED_CONTEXT_BODIES = {
    "gemini": GEMINI,
    "deepseek": DEEPSEEK,
    "litellm": LITELLM,
    "openrouter": OPENROUTER,
}


@both
@pytest.mark.parametrize("upstream", sorted(QUOTED_CONTEXT_BODIES))
def test_context_overflow_wordings_of_gateways(sync: bool, upstream: str) -> None:
    replies = Replies(400, QUOTED_CONTEXT_BODIES[upstream])
    error = chat_error(sync, replies)
    assert type(error) is ContextLengthExceededError
    assert error.status_code == 400
    assert len(replies.requests) == 1


@both
@pytest.mark.parametrize(
    "name",
    [
        "openai/exchanges/oai-error-400-context-length-exceeded-responses-api.json",
        "anthropic/exchanges/ant-error-400-prompt-too-long.json",
    ],
)
def test_context_overflow_of_recorded_replies(sync: bool, name: str) -> None:
    status, headers, body = reference_response(name)
    replies = Replies(status, body, headers)
    error = chat_error(sync, replies)
    assert type(error) is ContextLengthExceededError
    assert error.status_code == 400
    assert isinstance(error, BadRequestError)
    assert len(replies.requests) == 1


@both
def test_context_overflow_of_reported_openai_chat_bodies(sync: bool) -> None:
    bodies = reported_context_bodies()
    assert bodies, "the reference lists reported bodies"
    for body in bodies:
        assert body["error"]["code"] == "context_length_exceeded"
        error = chat_error(sync, Replies(400, body))
        assert type(error) is ContextLengthExceededError, body
        assert "maximum context length" in error.message


# -- nearby errors that must not be taken for a context overflow -----------------------


@both
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("openai/exchanges/oai-error-429-rate-limit-tpm.json", RateLimitError),
        ("openai/exchanges/oai-error-400-unsupported-parameter.json", BadRequestError),
        ("openai/exchanges/oai-error-400-unsupported-value.json", BadRequestError),
        ("openai/exchanges/oai-error-401-invalid-api-key.json", AuthenticationError),
        ("anthropic/exchanges/ant-error-401-authentication.json", AuthenticationError),
    ],
)
def test_other_recorded_errors_keep_their_class(
    sync: bool, name: str, expected: type[RelayError]
) -> None:
    status, headers, body = reference_response(name)
    error = chat_error(sync, Replies(status, body, headers), max_retries=0)
    assert type(error) is expected
    assert error.status_code == status


# -- model not found, read from the body ------------------------------------------------

LITELLM_INVALID_MODEL = {
    "error": {
        "message": "/chat/completions: Invalid model name passed in model=gpt-4.1b. Call "
        "/v1/models to view available models",
        "type": None,
        "param": None,
        "code": "400",
    }
}


def invalid_model_name(model: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(json.dumps(LITELLM_INVALID_MODEL))
    body["error"]["message"] = body["error"]["message"].replace("gpt-4.1b", model)
    return body


@both
def test_litellm_invalid_model_name_400_is_model_not_found(sync: bool, relay_url: str) -> None:
    replies = Replies(400, LITELLM_INVALID_MODEL)
    error = chat_error(sync, replies, model="gpt-4.1b", base_url=relay_url)
    assert isinstance(error, ModelNotFoundError)
    assert error.status_code == 400
    assert "gpt-4.1" in error.suggestions
    assert "gpt-4.1b" not in error.suggestions
    assert "gpt-4.1" in str(error)  # "Did you mean" is part of the message
    assert len(replies.requests) == 1


@both
def test_suggestions_include_ids_the_relay_listed(sync: bool, relay_url: str) -> None:
    replies = Replies(400, invalid_model_name("house-model-y"))
    replies.listing = {
        "object": "list",
        "data": [{"id": "house-model-x"}, {"id": "house-model-y"}, {"id": "unrelated-zz"}],
    }
    Runner(sync, replies, base_url=relay_url).models()
    error = chat_error(sync, replies, model="house-model-y", base_url=relay_url)
    assert isinstance(error, ModelNotFoundError)
    assert "house-model-x" in error.suggestions  # only this relay lists it
    assert "house-model-y" not in error.suggestions  # never the model that failed


@both
def test_suggestions_come_from_the_relay_the_client_talks_to(sync: bool, relay_url: str) -> None:
    """A listing of another relay does not leak into this one's suggestions."""
    other = relay_url.replace("/v1", "-other/v1")
    replies = Replies(400, invalid_model_name("house-model-y"))
    replies.listing = {"object": "list", "data": [{"id": "house-model-x"}]}
    try:
        Runner(sync, replies, base_url=other).models()
        error = chat_error(sync, replies, model="house-model-y", base_url=relay_url)
    finally:
        served.forget(other)
    assert isinstance(error, ModelNotFoundError)
    assert "house-model-x" not in error.suggestions


@both
@pytest.mark.parametrize(
    ("name", "model", "suggested"),
    [
        ("openai/exchanges/oai-error-404-model-not-found.json", "gpt-5.2-proo", "gpt-5.2"),
        ("openai/exchanges/oai-error-400-invalid-model-id.json", "gpt-4.1-mini-x", "gpt-4.1"),
    ],
)
def test_recorded_openai_model_errors(
    sync: bool, name: str, model: str, suggested: str, relay_url: str
) -> None:
    status, headers, body = reference_response(name)
    replies = Replies(status, body, headers)
    error = chat_error(sync, replies, model=model, base_url=relay_url)
    assert isinstance(error, ModelNotFoundError)
    assert error.status_code == status
    assert suggested in error.suggestions
    assert model not in error.suggestions
    assert len(replies.requests) == 1


@both
def test_recorded_anthropic_unknown_model_404_is_model_not_found(sync: bool) -> None:
    """Anthropic answers an unknown model with 404 ``not_found_error`` "model: <id>"."""
    status, headers, body = reference_response(
        "anthropic/exchanges/ant-error-404-model-not-found.json", index=1
    )
    assert status == 404
    error = chat_error(sync, Replies(status, body, headers), model="claude-sonnet-4-6x")
    assert isinstance(error, ModelNotFoundError)
    assert error.status_code == 404


@both
@pytest.mark.parametrize(
    "body",
    [
        {"error": {"message": "Invalid URL (POST /v1/chat/completions)", "code": "unknown_url"}},
        None,
    ],
    ids=["unknown-url", "empty"],
)
def test_a_404_about_the_path_is_not_model_not_found(sync: bool, body: Any) -> None:
    error = chat_error(sync, Replies(404, body))
    assert type(error) is BadRequestError
    assert isinstance(error, APIStatusError)
    assert error.status_code == 404
    if body is None:
        assert "HOLYSHEEP_BASE_URL" in error.message
