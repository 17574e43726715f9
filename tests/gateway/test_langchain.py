"""``ChatHolySheep`` / ``HolySheepEmbeddings`` / ``get_holysheep_callback`` against LiteLLM."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core import exceptions as lc
from langchain_core.messages import AIMessage, AIMessageChunk

from holysheep_relay import (
    AuthenticationError,
    BadRequestError,
    ContextLengthExceededError,
    ModelNotFoundError,
    RateLimitError,
    ServerError,
)
from langchain_holysheep import ChatHolySheep, HolySheepEmbeddings, get_holysheep_callback

from .proxy import (
    BAD_KEY,
    CLAUDE,
    CLAUDE_TEXT,
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
    WEATHER_TOOL,
    Gateway,
)


def chat(gateway: Gateway, model: str = GPT, **kw: Any) -> ChatHolySheep:
    kw.setdefault("api_key", gateway.key)
    kw.setdefault("max_retries", 0)
    return ChatHolySheep(model=model, base_url=gateway.base_url, timeout=TIMEOUT, **kw)


def merged(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    return total


def test_invoke(gateway: Gateway) -> None:
    probe = gateway.probe()
    reply = chat(gateway).invoke(probe.prompt())
    assert isinstance(reply, AIMessage)
    assert reply.content == GPT_TEXT
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["total_tokens"] > 0
    assert reply.response_metadata["model_name"] == GPT
    assert reply.response_metadata["finish_reason"] == "stop"
    assert reply.response_metadata["request_id"] == probe.calls[-1]


def test_stream_with_usage(gateway: Gateway) -> None:
    probe = gateway.probe()
    chunks = list(chat(gateway).stream(probe.prompt()))
    message = merged(chunks)
    assert message.content == GPT_TEXT
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] > 0
    assert message.usage_metadata["total_tokens"] == (
        message.usage_metadata["input_tokens"] + message.usage_metadata["output_tokens"]
    )
    assert message.response_metadata["finish_reason"] == "stop"
    assert message.response_metadata["request_id"] == probe.calls[-1]


async def test_ainvoke_and_astream(gateway: Gateway) -> None:
    llm = chat(gateway)
    reply = await llm.ainvoke("Hi")
    chunks = [chunk async for chunk in llm.astream("Hi")]
    assert reply.content == GPT_TEXT
    assert merged(chunks).content == GPT_TEXT
    assert merged(chunks).usage_metadata is not None


@pytest.mark.parametrize(("model", "text"), [(DEEPSEEK, DEEPSEEK_TEXT), (CLAUDE, CLAUDE_TEXT)])
def test_model_id_is_sent_as_written(gateway: Gateway, model: str, text: str) -> None:
    reply = chat(gateway, model).invoke("Hi")
    assert reply.content == text
    assert reply.response_metadata["model_name"] == model


def test_unknown_model(gateway: Gateway) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        chat(gateway, "gpt-4.1x").invoke("Hi")
    assert isinstance(info.value, lc.ModelNotFoundError)
    assert "gpt-4.1" in info.value.suggestions


def test_bind_tools(gateway: Gateway) -> None:
    reply = chat(gateway, TOOLS).bind_tools([WEATHER_TOOL]).invoke("Weather in Paris?")
    (call,) = reply.tool_calls
    assert call["name"] == "get_weather"
    assert call["args"] == WEATHER_ARGS
    assert call["id"] == WEATHER_CALL["id"]


async def test_bind_tools_streamed(gateway: Gateway) -> None:
    llm = chat(gateway, TOOLS).bind_tools([WEATHER_TOOL])
    message = merged([chunk async for chunk in llm.astream("Weather in Paris?")])
    (call,) = message.tool_calls
    assert call["name"] == "get_weather"
    assert call["args"] == WEATHER_ARGS
    assert call["id"] == WEATHER_CALL["id"]
    assert message.response_metadata["finish_reason"] == "tool_calls"


def test_rate_limit(gateway: Gateway) -> None:
    probe = gateway.probe()
    with pytest.raises(RateLimitError) as info:
        chat(gateway, RATE_LIMITED, max_retries=1).invoke(probe.prompt())
    assert isinstance(info.value, lc.ModelRateLimitError)
    assert info.value.status_code == 429
    assert len(probe.calls) == 2  # one retry, done by the core (the adapter adds none)


def test_context_window_exceeded(gateway: Gateway) -> None:
    with pytest.raises(ContextLengthExceededError) as info:
        chat(gateway, CONTEXT_WINDOW).invoke("Hi")
    assert isinstance(info.value, lc.ContextOverflowError)


def test_server_error(gateway: Gateway) -> None:
    with pytest.raises(ServerError) as info:
        chat(gateway, SERVER_ERROR).invoke("Hi")
    assert isinstance(info.value, lc.ModelAPIError)
    assert info.value.status_code == 500


def test_rate_limit_frame_mid_stream(gateway: Gateway) -> None:
    texts: list[str] = []

    def read() -> None:
        for chunk in chat(gateway, MID_429, max_retries=2).stream("Hi"):
            texts.append(str(chunk.content))

    with pytest.raises(RateLimitError) as info:
        read()
    assert isinstance(info.value, lc.ModelRateLimitError)
    assert info.value.status_code == 429
    assert info.value.partial_text == "".join(texts)
    assert MID_TEXT.startswith(info.value.partial_text)


async def test_bad_request_frame(gateway: Gateway) -> None:
    with pytest.raises(BadRequestError) as info:
        async for _ in chat(gateway, LATE_400, max_retries=2).astream("Hi"):
            pass
    assert not isinstance(info.value, ServerError)
    assert isinstance(info.value, lc.ModelInvalidRequestError)
    assert info.value.status_code == 400


def test_bad_key(gateway: Gateway) -> None:
    with pytest.raises(AuthenticationError) as info:
        chat(gateway, api_key=BAD_KEY).invoke("Hi")
    assert isinstance(info.value, lc.ModelAuthenticationError)
    assert info.value.status_code == 401


def test_callback_totals(gateway: Gateway) -> None:
    llm = chat(gateway)
    with get_holysheep_callback() as cb:
        reply = llm.invoke("Hi")
        streamed = merged(list(llm.stream("Hi")))
    assert reply.usage_metadata is not None
    assert streamed.usage_metadata is not None
    assert cb.requests == 2
    assert cb.total_tokens == (
        reply.usage_metadata["total_tokens"] + streamed.usage_metadata["total_tokens"]
    )


def test_embeddings(gateway: Gateway) -> None:
    embeddings = HolySheepEmbeddings(
        model=EMBEDDING_MODEL, api_key=gateway.key, base_url=gateway.base_url, timeout=TIMEOUT
    )
    assert embeddings.embed_documents(["a", "bbb"]) == [[0.0, 1.0, 0.5], [1.0, 3.0, 0.5]]
    assert embeddings.embed_query("hello") == [0.0, 5.0, 0.5]


async def test_embeddings_async(gateway: Gateway) -> None:
    embeddings = HolySheepEmbeddings(
        model=EMBEDDING_MODEL,
        api_key=gateway.key,
        base_url=gateway.base_url,
        timeout=TIMEOUT,
        chunk_size=2,
    )
    vectors = await embeddings.aembed_documents(["x", "yy", "zzz"])
    # batches of two: the index restarts in each reply, the order across batches is kept
    assert [v[1] for v in vectors] == [1.0, 2.0, 3.0]
