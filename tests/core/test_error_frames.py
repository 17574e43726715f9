"""Error frames inside a 200 stream (``data: {"error": ...}``), sync and async over MockTransport.

A frame is typed like the HTTP status its ``code`` (or else its ``type``) names; before any
content a retryable one is retried under the client's retry policy, after content never.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from holysheep_relay import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    RateLimitError,
    RelayError,
    ServerError,
    StreamResult,
)

from .helpers import Runner, sse, text_chunks
from .test_error_classification import reference_dir

both = pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])

URL = "http://127.0.0.1:9/v1"
PING = b": ping\n\n"
LITELLM_429 = {
    "error": {
        "message": "litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached "
        "for gpt-4.1 in organization org-x on tokens per min (TPM)",
        "type": "throttling_error",
        "code": "429",
    }
}


def frame(error: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(error)}\n\n".encode()


def error_stream(error: dict[str, Any]) -> bytes:
    """A ping, the error frame, then ``[DONE]``: what LiteLLM sends when the upstream fails."""
    return PING + frame(error) + b"data: [DONE]\n\n"


GOOD = PING + sse(*text_chunks("Hel", "lo"))


class Streams:
    """A MockTransport handler: the n-th request gets ``bodies[n]`` (the last one repeats),
    each as a fresh 200 ``text/event-stream`` reply with request id ``req_<n>``."""

    def __init__(self, *bodies: bytes, content_type: str = "text/event-stream") -> None:
        self.bodies = bodies
        self.content_type = content_type
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = self.bodies[min(len(self.requests), len(self.bodies)) - 1]
        headers = {"content-type": self.content_type, "x-request-id": f"req_{len(self.requests)}"}
        return httpx.Response(200, content=body, headers=headers)


def stream_error(sync: bool, streams: Streams, max_retries: int = 2) -> RelayError:
    with pytest.raises(RelayError) as info:
        Runner(sync, streams, base_url=URL, max_retries=max_retries).stream()
    return info.value


def stream_ok(sync: bool, streams: Streams, max_retries: int = 2) -> StreamResult:
    _, result = Runner(sync, streams, base_url=URL, max_retries=max_retries).stream()
    return result


@both
@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_rate_limit_frame_before_content_is_retried_then_raised(
    sync: bool, max_retries: int
) -> None:
    streams = Streams(error_stream(LITELLM_429))
    error = stream_error(sync, streams, max_retries)
    assert type(error) is RateLimitError
    assert error.status_code == 429
    assert len(streams.requests) == max_retries + 1
    assert error.request_id == f"req_{max_retries + 1}"  # the last attempt's
    assert error.partial_text == ""


@both
def test_retried_stream_that_then_succeeds_returns_the_whole_answer(sync: bool) -> None:
    streams = Streams(error_stream(LITELLM_429), GOOD)
    result = stream_ok(sync, streams)
    assert result.content == "Hello"
    assert result.finish_reason == "stop"
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.total_tokens) == (4, 6)
    assert result.request_id == "req_2"
    assert len(streams.requests) == 2
    first, second = (json.loads(r.content) for r in streams.requests)
    assert first == second  # the same request, sent again


@both
def test_retry_after_an_error_frame_that_followed_the_role_chunk(sync: bool) -> None:
    """A role-only chunk (``content: ""``) is not content: the frame is still retried."""
    role = sse(text_chunks()[0], done=False)
    streams = Streams(role + frame(LITELLM_429), GOOD)
    assert stream_ok(sync, streams).content == "Hello"
    assert len(streams.requests) == 2


@both
def test_error_frame_after_content_is_raised_at_once(sync: bool) -> None:
    body = PING + sse(*text_chunks("Hel", finish=None, usage=False), done=False)
    streams = Streams(body + frame(LITELLM_429) + b"data: [DONE]\n\n", GOOD)
    error = stream_error(sync, streams)
    assert type(error) is RateLimitError
    assert error.status_code == 429
    assert error.partial_text == "Hel"
    assert len(streams.requests) == 1  # never resent: it would print and bill twice


def typed(etype: str) -> dict[str, Any]:
    """A frame naming its error only by ``type`` (Anthropic / LiteLLM style)."""
    return {"error": {"type": etype, "message": "the upstream failed"}}


# id: (frame, class raised, its status_code, retried before content)
FRAMES: dict[str, tuple[dict[str, Any], type[APIStatusError], int | None, bool]] = {
    "code-400": ({"error": {"message": "bad", "code": "400"}}, BadRequestError, 400, False),
    "rate_limit_error": (typed("rate_limit_error"), RateLimitError, 429, True),
    "overloaded_error": (typed("overloaded_error"), ServerError, 529, True),
    "invalid_request_error": (typed("invalid_request_error"), BadRequestError, 400, False),
    "authentication_error": (typed("authentication_error"), AuthenticationError, 401, False),
    "not_found_error": (typed("not_found_error"), APIStatusError, 404, False),
    "int-code-503": ({"error": {"message": "unavailable", "code": 503}}, ServerError, 503, True),
    "names-nothing": ({"error": {"message": "it broke"}}, ServerError, None, False),
}


@both
@pytest.mark.parametrize(("error", "cls", "status", "retried"), FRAMES.values(), ids=FRAMES)
def test_frames_are_typed_like_the_status_they_name(
    sync: bool, error: dict[str, Any], cls: type[APIStatusError], status: int | None, retried: bool
) -> None:
    streams = Streams(error_stream(error))
    raised = stream_error(sync, streams, max_retries=2)
    assert isinstance(raised, cls)
    if cls is not APIStatusError:
        assert type(raised) is cls
    assert raised.status_code == status
    assert len(streams.requests) == (3 if retried else 1)


@both
def test_anthropic_error_event_is_retried_like_a_529(sync: bool) -> None:
    """The Anthropic SDK's recorded ``event: error`` overloaded frame."""
    body = (reference_dir() / "anthropic" / "vendor-fixtures" / "sdk-error_event.sse").read_bytes()
    assert b"overloaded_error" in body
    streams = Streams(body, GOOD)
    assert stream_ok(sync, streams).content == "Hello"
    assert len(streams.requests) == 2


@both
def test_json_error_instead_of_a_stream_is_retried_like_a_frame(sync: bool) -> None:
    """A 200 ``application/json`` ``{"error": ...}`` reply to a stream request."""
    body = json.dumps({"error": {"type": "rate_limit_error", "message": "slow down"}}).encode()
    streams = Streams(body, content_type="application/json")
    error = stream_error(sync, streams, max_retries=1)
    assert type(error) is RateLimitError
    assert len(streams.requests) == 2


@both
def test_chunks_in_the_same_read_as_an_error_frame_reach_the_caller_first(sync: bool) -> None:
    """Content and an error frame in one network read: the content is yielded, then the
    error is raised (not retried: content came first), so token callbacks see every token."""
    body = sse(*text_chunks("Hel", "lo", finish=None, usage=False), done=False) + frame(LITELLM_429)
    streams = Streams(body)
    client_kw: dict[str, Any] = {"base_url": URL, "max_retries": 2}
    seen: list[str] = []
    with pytest.raises(RateLimitError) as info:
        Runner(sync, streams, **client_kw).stream()
    runner = Runner(sync, Streams(body), **client_kw)
    messages = [{"role": "user", "content": "x"}]

    def collect_sync() -> None:
        with runner._sync_client() as client:
            for chunk in client.stream_chat(model="gpt-4.1", messages=messages):
                seen.extend(c.delta.content or "" for c in chunk.choices)

    async def collect_async() -> None:
        async with runner._async_client() as client:
            stream = await client.stream_chat(model="gpt-4.1", messages=messages)
            async for chunk in stream:
                seen.extend(c.delta.content or "" for c in chunk.choices)

    if sync:
        with pytest.raises(RateLimitError):
            collect_sync()
    else:
        with pytest.raises(RateLimitError):
            asyncio.run(collect_async())
    assert "".join(seen) == "Hello"
    assert info.value.partial_text == "Hello"
    assert len(streams.requests) == 1
