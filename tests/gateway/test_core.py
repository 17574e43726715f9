"""The relay core (``RelayClient`` / ``AsyncRelayClient``) against a real LiteLLM proxy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from holysheep_relay import (
    AsyncRelayClient,
    AuthenticationError,
    BadRequestError,
    ChatStream,
    ContextLengthExceededError,
    ModelInfo,
    ModelNotFoundError,
    RateLimitError,
    RelayClient,
    ServerError,
)

from .proxy import (
    BAD_KEY,
    CLAUDE,
    CLAUDE_TEXT,
    CONTEXT_WINDOW,
    DEEPSEEK,
    DEEPSEEK_TEXT,
    EMBEDDING_MODEL,
    GPT,
    GPT_MAX_INPUT,
    GPT_MAX_OUTPUT,
    GPT_TEXT,
    LATE_400,
    LATE_429,
    LATE_TEXT,
    MID_429,
    MID_TEXT,
    RATE_LIMITED,
    SERVER_ERROR,
    TIMEOUT,
    TOOLS,
    WEATHER_ARGS,
    WEATHER_CALL,
    WEATHER_TOOL,
    Gateway,
    model_list,
)


def client(gateway: Gateway, **kw: Any) -> RelayClient:
    kw.setdefault("api_key", gateway.key)
    return RelayClient(base_url=gateway.base_url, timeout=TIMEOUT, **kw)


def aclient(gateway: Gateway, **kw: Any) -> AsyncRelayClient:
    kw.setdefault("api_key", gateway.key)
    return AsyncRelayClient(base_url=gateway.base_url, timeout=TIMEOUT, **kw)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


# -- plain chat and streams -------------------------------------------------------------


def test_chat(gateway: Gateway) -> None:
    with client(gateway) as c:
        reply = c.chat(model=GPT, messages=user("Hi"))
    assert reply.content == GPT_TEXT
    assert reply.model == GPT
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.prompt_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


async def test_chat_async(gateway: Gateway) -> None:
    async with aclient(gateway) as c:
        reply = await c.chat(model=GPT, messages=user("Hi"))
    assert reply.content == GPT_TEXT
    assert reply.usage is not None
    assert reply.usage.total_tokens > 0


def test_stream_with_usage(gateway: Gateway) -> None:
    """LiteLLM's usage chunk has ``choices: [{"index": 0, "delta": {}}]``, not ``[]``."""
    with client(gateway) as c, c.stream_chat(model=GPT, messages=user("Hi")) as stream:
        chunks = list(stream)
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == GPT_TEXT
    assert len(chunks) > 3  # LiteLLM streams a mock a few characters at a time
    result = stream.result
    assert result.content == GPT_TEXT
    assert result.finish_reason == "stop"
    assert result.usage is not None
    assert result.usage.completion_tokens > 0
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens


async def test_stream_with_usage_async(gateway: Gateway) -> None:
    async with aclient(gateway) as c:
        stream = await c.stream_chat(model=GPT, messages=user("Hi"))
        result = await stream.until_done()
    assert result.content == GPT_TEXT
    assert result.usage is not None
    assert result.usage.total_tokens > 0


def test_request_id_is_the_gateways_call_id(gateway: Gateway) -> None:
    """LiteLLM names each request in ``x-litellm-call-id`` (it sends no ``x-request-id``)."""
    probe = gateway.probe()
    with client(gateway) as c:
        reply = c.chat(model=GPT, messages=user(probe.prompt()))
        with c.stream_chat(model=GPT, messages=user(probe.prompt())) as stream:
            result = stream.until_done()
    first, second = probe.calls
    assert reply.request_id == first
    assert result.request_id == second


# -- model ids are sent as written ------------------------------------------------------


@pytest.mark.parametrize(("model", "text"), [(DEEPSEEK, DEEPSEEK_TEXT), (CLAUDE, CLAUDE_TEXT)])
def test_model_id_is_sent_as_written(gateway: Gateway, model: str, text: str) -> None:
    """The gateway serves ``deepseek-chat`` / ``claude-sonnet-4-5`` under exactly that name;
    a client-side alias table must not rename them (the relay is the truth about ids)."""
    with client(gateway, max_retries=0) as c:
        reply = c.chat(model=model, messages=user("Hi"))
    assert reply.content == text
    assert reply.model == model


async def test_model_id_is_sent_as_written_streamed(gateway: Gateway) -> None:
    async with aclient(gateway, max_retries=0) as c:
        stream = await c.stream_chat(model=DEEPSEEK, messages=user("Hi"))
        result = await stream.until_done()
    assert result.content == DEEPSEEK_TEXT
    assert result.model == DEEPSEEK


def test_unknown_model(gateway: Gateway) -> None:
    """LiteLLM answers 400 "Invalid model name passed in model=...", not 404."""
    with client(gateway, max_retries=0) as c, pytest.raises(ModelNotFoundError) as info:
        c.chat(model="gpt-4.1x", messages=user("Hi"))
    assert info.value.status_code == 400
    assert "gpt-4.1" in info.value.suggestions


def test_unknown_model_suggests_what_the_gateway_serves(gateway: Gateway) -> None:
    with client(gateway, max_retries=0) as c:
        served = {m.id for m in c.list_models()}
        with pytest.raises(ModelNotFoundError) as info:
            c.chat(model="gw-tool", messages=user("Hi"))
    assert TOOLS in served
    assert TOOLS in info.value.suggestions


# -- tools ------------------------------------------------------------------------------


def test_tool_call(gateway: Gateway) -> None:
    """LiteLLM's mocked tool call comes with ``finish_reason: "stop"`` and text content."""
    with client(gateway) as c:
        reply = c.chat(model=TOOLS, messages=user("Weather in Paris?"), tools=[WEATHER_TOOL])
    (call,) = reply.choices[0].message.tool_calls or []
    assert call.id == WEATHER_CALL["id"]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == WEATHER_ARGS


async def test_tool_call_streamed(gateway: Gateway) -> None:
    async with aclient(gateway) as c:
        stream = await c.stream_chat(
            model=TOOLS, messages=user("Weather in Paris?"), tools=[WEATHER_TOOL]
        )
        result = await stream.until_done()
    (call,) = result.tool_calls
    assert call.id == WEATHER_CALL["id"]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == WEATHER_ARGS
    assert result.finish_reason == "tool_calls"
    assert result.usage is not None
    assert result.usage.total_tokens > 0


# -- errors outside streams -------------------------------------------------------------


def test_rate_limit_is_retried_then_raised(gateway: Gateway) -> None:
    probe = gateway.probe()
    with client(gateway, max_retries=2) as c, pytest.raises(RateLimitError) as info:
        c.chat(model=RATE_LIMITED, messages=user(probe.prompt()))
    assert info.value.status_code == 429
    assert info.value.code == "429"
    assert len(probe.calls) == 3  # one request and two retries (the proxy itself: none)


async def test_rate_limit_before_a_stream_is_retried(gateway: Gateway) -> None:
    probe = gateway.probe()
    async with aclient(gateway, max_retries=1) as c:
        with pytest.raises(RateLimitError) as info:
            await c.stream_chat(model=RATE_LIMITED, messages=user(probe.prompt()))
    assert info.value.status_code == 429
    assert len(probe.calls) == 2


def test_context_window_exceeded(gateway: Gateway) -> None:
    """LiteLLM: 400, ``litellm.ContextWindowExceededError: ... context window exceeded``."""
    probe = gateway.probe()
    with client(gateway, max_retries=2) as c, pytest.raises(ContextLengthExceededError) as info:
        c.chat(model=CONTEXT_WINDOW, messages=user(probe.prompt()))
    assert info.value.status_code == 400
    assert len(probe.calls) == 1


def test_server_error_is_retried_then_raised(gateway: Gateway) -> None:
    probe = gateway.probe()
    with client(gateway, max_retries=1) as c, pytest.raises(ServerError) as info:
        c.chat(model=SERVER_ERROR, messages=user(probe.prompt()))
    assert info.value.status_code == 500
    assert len(probe.calls) == 2


def test_late_failure_of_a_non_streamed_request_is_plain_http(gateway: Gateway) -> None:
    """Keep-alive only applies to streams: a slow failure is an ordinary 429, retried."""
    probe = gateway.probe(fail=1)
    with client(gateway, max_retries=1) as c:
        reply = c.chat(model=LATE_429, messages=user(probe.prompt()))
    assert reply.content == LATE_TEXT
    assert len(probe.calls) == 2


def test_bad_key(gateway: Gateway) -> None:
    """With a ``custom_auth`` hook LiteLLM answers 401 (without one, see README.md)."""
    with client(gateway, api_key=BAD_KEY, max_retries=2) as c:
        with pytest.raises(AuthenticationError) as info:
            c.chat(model=GPT, messages=user("Hi"))
        assert info.value.status_code == 401
        assert BAD_KEY not in str(info.value)
        with pytest.raises(AuthenticationError):
            c.list_models()


# -- errors inside a 200 stream ---------------------------------------------------------


def test_rate_limit_frame_mid_stream(gateway: Gateway) -> None:
    """Two chunks, then ``data: {"error": {..., "code": "429"}}`` (and no ``[DONE]``)."""
    probe = gateway.probe()
    texts: list[str] = []

    def read(stream: ChatStream) -> None:
        for chunk in stream:
            texts.extend(ch.delta.content or "" for ch in chunk.choices)

    with client(gateway, max_retries=2) as c:
        stream = c.stream_chat(model=MID_429, messages=user(probe.prompt()))
        with stream, pytest.raises(RateLimitError) as info:
            read(stream)
    error = info.value
    assert error.status_code == 429
    assert error.code == "429"
    assert error.partial_text == "".join(texts)
    assert error.partial_text
    assert MID_TEXT.startswith(error.partial_text)
    assert len(probe.calls) == 1  # content was delivered: never retried


def test_rate_limit_frame_before_content_is_retried(gateway: Gateway) -> None:
    """``: ping`` comments, a 429 frame, ``[DONE]``: nothing was delivered, so this is a
    429 like any other and is retried under the same policy (each retry is a new request
    for the proxy: a new call id)."""
    probe = gateway.probe(fail=1)
    with (
        client(gateway, max_retries=2) as c,
        c.stream_chat(model=LATE_429, messages=user(probe.prompt())) as stream,
    ):
        result = stream.until_done()
    assert result.content == LATE_TEXT
    assert len(probe.calls) == 2
    assert result.request_id == probe.calls[-1]


async def test_rate_limit_frame_before_content_gives_up(gateway: Gateway) -> None:
    probe = gateway.probe()
    async with aclient(gateway, max_retries=1) as c:
        with pytest.raises(RateLimitError) as info:
            await (await c.stream_chat(model=LATE_429, messages=user(probe.prompt()))).until_done()
    assert info.value.status_code == 429
    assert info.value.code == "429"
    assert info.value.partial_text == ""
    assert len(probe.calls) == 2


def test_bad_request_frame_is_not_a_server_error(gateway: Gateway) -> None:
    probe = gateway.probe()
    with (
        client(gateway, max_retries=2) as c,
        pytest.raises(BadRequestError) as info,
        c.stream_chat(model=LATE_400, messages=user(probe.prompt())) as stream,
    ):
        stream.until_done()
    assert not isinstance(info.value, ServerError)
    assert info.value.status_code == 400
    assert info.value.code == "400"
    assert len(probe.calls) == 1


# -- models, long prompts, embeddings ---------------------------------------------------


def test_list_models_keeps_limits(gateway: Gateway) -> None:
    with client(gateway) as c:
        models = {m.id: m for m in c.list_models()}
    assert set(models) == {m["model_name"] for m in model_list()}
    assert all(isinstance(m, ModelInfo) for m in models.values())
    gpt = models[GPT]
    assert gpt.max_input_tokens == GPT_MAX_INPUT
    assert gpt.max_output_tokens == GPT_MAX_OUTPUT
    assert models[RATE_LIMITED].max_input_tokens is None  # nothing published for that one


def test_million_character_prompt_is_sent(gateway: Gateway) -> None:
    """gpt-4.1 takes 1,047,576 input tokens (the gateway says so); a stale local window
    (128k) must not refuse a prompt the gateway accepts."""
    probe = gateway.probe()
    prompt = probe.prompt("word " * 200_000)
    assert len(prompt) > 1_000_000
    with client(gateway, max_retries=0) as c:
        reply = c.chat(model=GPT, messages=user(prompt))
    assert reply.content == GPT_TEXT
    assert len(probe.calls) == 1


def test_embeddings(gateway: Gateway) -> None:
    with client(gateway) as c:
        batch = c.embed(model=EMBEDDING_MODEL, input=["a", "bbb"])
        single = c.embed(model=EMBEDDING_MODEL, input="hello")
    assert batch.vectors == [[0.0, 1.0, 0.5], [1.0, 3.0, 0.5]]
    assert single.vectors == [[0.0, 5.0, 0.5]]
    assert batch.usage is not None
    assert batch.usage.prompt_tokens > 0


async def test_embeddings_async(gateway: Gateway) -> None:
    async with aclient(gateway) as c:
        result = await c.embed(model=EMBEDDING_MODEL, input=["x", "yy", "zzz"])
    assert [v[:2] for v in result.vectors] == [[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]]
