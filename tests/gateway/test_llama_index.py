"""LlamaIndex ``HolySheep`` / ``HolySheepEmbedding`` against a real LiteLLM proxy."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.tools import FunctionTool

from holysheep_relay import (
    AuthenticationError,
    BadRequestError,
    ContextLengthExceededError,
    ModelNotFoundError,
    RateLimitError,
    ServerError,
)
from llama_index_holysheep import HolySheep, HolySheepEmbedding

from .proxy import (
    BAD_KEY,
    CONTEXT_WINDOW,
    DEEPSEEK,
    DEEPSEEK_TEXT,
    EMBEDDING_MODEL,
    GPT,
    GPT_TEXT,
    LATE_400,
    MID_429,
    MID_TEXT,
    RATE_LIMITED,
    SERVER_ERROR,
    TIMEOUT,
    TOOLS,
    WEATHER_ARGS,
    WEATHER_CALL,
    Gateway,
)


def get_weather(city: str, unit: str = "celsius") -> str:
    """Current weather in a city."""
    return f"Sunny in {city}"


WEATHER = FunctionTool.from_defaults(fn=get_weather)


def llm(gateway: Gateway, model: str = GPT, **kw: Any) -> HolySheep:
    kw.setdefault("api_key", gateway.key)
    kw.setdefault("max_retries", 0)
    return HolySheep(model=model, api_base=gateway.base_url, timeout=TIMEOUT, **kw)


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


def test_chat(gateway: Gateway) -> None:
    probe = gateway.probe()
    response = llm(gateway).chat(user(probe.prompt()))
    assert response.message.content == GPT_TEXT
    meta = response.additional_kwargs
    assert meta["total_tokens"] == meta["prompt_tokens"] + meta["completion_tokens"] > 0
    assert meta["model"] == GPT
    assert meta["request_id"] == probe.calls[-1]


def test_stream_chat_with_usage(gateway: Gateway) -> None:
    probe = gateway.probe()
    responses = list(llm(gateway).stream_chat(user(probe.prompt())))
    assert "".join(r.delta or "" for r in responses) == GPT_TEXT
    last = responses[-1]
    assert last.message.content == GPT_TEXT
    assert last.additional_kwargs["completion_tokens"] > 0
    assert last.additional_kwargs["finish_reason"] == "stop"
    assert last.additional_kwargs["request_id"] == probe.calls[-1]


async def test_achat_and_astream_chat(gateway: Gateway) -> None:
    model = llm(gateway)
    response = await model.achat(user("Hi"))
    responses = [r async for r in await model.astream_chat(user("Hi"))]
    assert response.message.content == GPT_TEXT
    assert responses[-1].message.content == GPT_TEXT
    assert responses[-1].additional_kwargs["total_tokens"] > 0


def test_complete(gateway: Gateway) -> None:
    assert llm(gateway).complete("Hi").text == GPT_TEXT


def test_model_id_is_sent_as_written(gateway: Gateway) -> None:
    response = llm(gateway, DEEPSEEK).chat(user("Hi"))
    assert response.message.content == DEEPSEEK_TEXT
    assert response.additional_kwargs["model"] == DEEPSEEK


def test_unknown_model(gateway: Gateway) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        llm(gateway, "gpt-4.1x").chat(user("Hi"))
    assert "gpt-4.1" in info.value.suggestions


def test_chat_with_tools(gateway: Gateway) -> None:
    model = llm(gateway, TOOLS)
    response = model.chat_with_tools([WEATHER], user_msg="Weather in Paris?")
    (selection,) = model.get_tool_calls_from_response(response)
    assert selection.tool_name == "get_weather"
    assert selection.tool_kwargs == WEATHER_ARGS
    assert selection.tool_id == WEATHER_CALL["id"]


async def test_astream_chat_with_tools(gateway: Gateway) -> None:
    model = llm(gateway, TOOLS)
    stream = await model.astream_chat_with_tools([WEATHER], user_msg="Weather in Paris?")
    responses = [r async for r in stream]
    (selection,) = model.get_tool_calls_from_response(responses[-1])
    assert selection.tool_name == "get_weather"
    assert selection.tool_kwargs == WEATHER_ARGS
    assert selection.tool_id == WEATHER_CALL["id"]
    assert responses[-1].additional_kwargs["finish_reason"] == "tool_calls"


def test_rate_limit(gateway: Gateway) -> None:
    probe = gateway.probe()
    with pytest.raises(RateLimitError) as info:
        llm(gateway, RATE_LIMITED, max_retries=1).chat(user(probe.prompt()))
    assert info.value.status_code == 429
    assert len(probe.calls) == 2


def test_context_window_exceeded(gateway: Gateway) -> None:
    with pytest.raises(ContextLengthExceededError):
        llm(gateway, CONTEXT_WINDOW).chat(user("Hi"))


async def test_server_error(gateway: Gateway) -> None:
    with pytest.raises(ServerError) as info:
        await llm(gateway, SERVER_ERROR).achat(user("Hi"))
    assert info.value.status_code == 500


def test_rate_limit_frame_mid_stream(gateway: Gateway) -> None:
    deltas: list[str] = []

    def read() -> None:
        for response in llm(gateway, MID_429, max_retries=2).stream_chat(user("Hi")):
            deltas.append(response.delta or "")

    with pytest.raises(RateLimitError) as info:
        read()
    assert info.value.status_code == 429
    assert info.value.partial_text == "".join(deltas)
    assert MID_TEXT.startswith(info.value.partial_text)


def test_bad_request_frame(gateway: Gateway) -> None:
    with pytest.raises(BadRequestError) as info:
        for _ in llm(gateway, LATE_400, max_retries=2).stream_chat(user("Hi")):
            pass
    assert not isinstance(info.value, ServerError)
    assert info.value.status_code == 400


def test_bad_key(gateway: Gateway) -> None:
    with pytest.raises(AuthenticationError) as info:
        llm(gateway, api_key=BAD_KEY).chat(user("Hi"))
    assert info.value.status_code == 401


def test_embeddings(gateway: Gateway) -> None:
    embedding = HolySheepEmbedding(
        model_name=EMBEDDING_MODEL,
        api_key=gateway.key,
        api_base=gateway.base_url,
        timeout=TIMEOUT,
    )
    assert embedding.get_text_embedding_batch(["a", "bbb"]) == [[0.0, 1.0, 0.5], [1.0, 3.0, 0.5]]
    assert embedding.get_query_embedding("hello") == [0.0, 5.0, 0.5]


async def test_embeddings_async(gateway: Gateway) -> None:
    embedding = HolySheepEmbedding(
        model_name=EMBEDDING_MODEL,
        api_key=gateway.key,
        api_base=gateway.base_url,
        timeout=TIMEOUT,
    )
    assert await embedding.aget_query_embedding("hey") == [0.0, 3.0, 0.5]
