"""What the gateway itself puts on the wire (raw httpx, no client of ours).

These pin the facts the client tests and README.md rely on, so that a LiteLLM upgrade that
changes them fails here, by name, rather than somewhere downstream.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .proxy import (
    GPT,
    GPT_MAX_INPUT,
    GPT_MAX_OUTPUT,
    LATE_429,
    MID_429,
    RATE_LIMITED,
    TIMEOUT,
    Gateway,
    outbound_attempts,
)

HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture
def http(gateway: Gateway) -> Any:
    headers = {"Authorization": f"Bearer {gateway.key}"}
    with httpx.Client(base_url=gateway.base_url, headers=headers, timeout=TIMEOUT) as client:
        yield client


def frames(body: bytes) -> list[str]:
    """The SSE frames of a body, comments included (``: ping``)."""
    return [f for f in body.decode().split("\n\n") if f]


def data(frame: str) -> Any:
    assert frame.startswith("data: "), frame
    payload = frame[len("data: ") :]
    return payload if payload == "[DONE]" else json.loads(payload)


def test_model_listing(http: httpx.Client) -> None:
    body = http.get("/models").json()
    assert body["object"] == "list"
    entries = {m["id"]: m for m in body["data"]}
    assert entries[GPT] == {
        "id": GPT,
        "object": "model",
        "created": entries[GPT]["created"],
        "owned_by": "openai",
        "mode": "chat",
        "max_input_tokens": GPT_MAX_INPUT,
        "max_output_tokens": GPT_MAX_OUTPUT,
    }
    assert set(entries[RATE_LIMITED]) == {"id", "object", "created", "owned_by"}
    assert len({m["created"] for m in body["data"]}) == 1  # one fixed timestamp for all


def test_stream_usage_chunk(http: httpx.Client) -> None:
    request = {"model": GPT, "messages": HI, "stream": True}
    plain = [data(f) for f in frames(http.post("/chat/completions", json=request).content)]
    request["stream_options"] = {"include_usage": True}
    reply = http.post("/chat/completions", json=request)
    with_usage = [data(f) for f in frames(reply.content)]
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert plain[-1] == with_usage[-1] == "[DONE]"
    assert not any("usage" in chunk for chunk in plain[:-1])  # not even "usage": null
    first, usage_chunk = with_usage[0], with_usage[-2]
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert first["choices"][0]["delta"]["content"]  # the role comes with text, not alone
    assert usage_chunk["choices"] == [{"index": 0, "delta": {}}]
    assert usage_chunk["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0
    assert with_usage[-3]["choices"][0]["finish_reason"] == "stop"


def test_request_id_header(http: httpx.Client) -> None:
    for request in (
        {"model": GPT, "messages": HI},
        {"model": GPT, "messages": HI, "stream": True},
        {"model": RATE_LIMITED, "messages": HI},
    ):
        headers = http.post("/chat/completions", json=request).headers
        assert headers["x-litellm-call-id"]
        assert "x-request-id" not in headers


def test_error_bodies(http: httpx.Client) -> None:
    limited = http.post("/chat/completions", json={"model": RATE_LIMITED, "messages": HI})
    assert limited.status_code == 429
    assert "retry-after" not in limited.headers
    error = limited.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"]) == ("throttling_error", "429")
    unknown = http.post("/chat/completions", json={"model": "gpt-4.1x", "messages": HI})
    assert unknown.status_code == 400
    assert "Invalid model name passed in model=gpt-4.1x" in unknown.json()["error"]["message"]


def test_keepalive_then_error_frame(http: httpx.Client) -> None:
    request = {"model": LATE_429, "messages": HI, "stream": True}
    reply = http.post("/chat/completions", json=request)
    assert reply.status_code == 200
    assert "x-litellm-call-id" not in reply.headers  # the status line went out before it
    got = frames(reply.content)
    assert got[0] == ": ping"
    pings = [f for f in got if f == ": ping"]
    assert got[: len(pings)] == pings
    error, done = got[len(pings) :]
    assert data(error)["error"]["code"] == "429"
    assert data(done) == "[DONE]"


def test_mid_stream_error_frame_has_no_done(http: httpx.Client) -> None:
    request = {"model": MID_429, "messages": HI, "stream": True}
    got = [data(f) for f in frames(http.post("/chat/completions", json=request).content)]
    assert [bool(c["choices"][0]["delta"]["content"]) for c in got[:2]] == [True, True]
    assert got[2]["error"]["code"] == "429"
    assert len(got) == 3  # no [DONE] after it


def test_proxy_made_no_outbound_attempt(gateway: Gateway) -> None:
    assert outbound_attempts(gateway.log()) == []
