"""Recorded exchanges replayed offline (cassettes/langchain/test_cassettes/).

Re-record from the emulator: ``pytest tests/langchain/test_cassettes.py --record-mode=rewrite``.
Re-record from the live relay: the same with ``HOLYSHEEP_RECORD_LIVE=1`` and a real
``HOLYSHEEP_API_KEY``. Assertions hold for any real model, not only for the emulator.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from langchain_holysheep import ChatHolySheep, HolySheepEmbeddings, get_holysheep_callback
from tests import cassette_config
from tests.langchain.helpers import collect

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes" / "langchain"
MODEL = "gpt-4.1"


@tool
def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"It is sunny in {city}."


class City(BaseModel):
    """A city and its country."""

    name: str = Field(description="city name")
    country: str = Field(description="country name")


def _llm(relay: tuple[str, str]) -> ChatHolySheep:
    base_url, api_key = relay
    return ChatHolySheep(model=MODEL, base_url=base_url, api_key=api_key, max_tokens=60)


@pytest.mark.vcr
def test_invoke(cassette_relay: tuple[str, str]) -> None:
    reply = _llm(cassette_relay).invoke("Say hello in three words.")
    assert isinstance(reply.content, str)
    assert reply.content
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["total_tokens"] > 0
    assert reply.response_metadata["model_name"].startswith(MODEL)
    assert reply.response_metadata["cost_usd"] > 0


@pytest.mark.vcr
def test_stream(cassette_relay: tuple[str, str]) -> None:
    chunks = list(_llm(cassette_relay).stream("Count from one to five."))
    assert len(chunks) > 2
    assert sum(1 for c in chunks if c.usage_metadata) == 1
    full = collect(chunks)
    assert full.content
    assert full.usage_metadata["output_tokens"] > 0


@pytest.mark.vcr
def test_astream(cassette_relay: tuple[str, str]) -> None:
    async def go() -> list[object]:
        return [c async for c in _llm(cassette_relay).astream("Name two colours.")]

    full = collect(asyncio.run(go()))
    assert full.content
    assert full.usage_metadata is not None


@pytest.mark.vcr
def test_tool_call(cassette_relay: tuple[str, str]) -> None:
    llm = _llm(cassette_relay).bind_tools([get_weather], tool_choice="get_weather")
    reply = llm.invoke("What is the weather in Paris?")
    assert [c["name"] for c in reply.tool_calls] == ["get_weather"]
    assert "city" in reply.tool_calls[0]["args"]
    streamed = collect(llm.stream("What is the weather in Paris?"))
    assert [c["name"] for c in streamed.tool_calls] == ["get_weather"]


@pytest.mark.vcr
def test_structured_output(cassette_relay: tuple[str, str]) -> None:
    structured = _llm(cassette_relay).with_structured_output(City)
    city = structured.invoke("Which city is the capital of France? Answer with Paris, France.")
    assert isinstance(city, City)
    assert city.name
    assert city.country


@pytest.mark.vcr
def test_agent_loop(cassette_relay: tuple[str, str]) -> None:
    llm = _llm(cassette_relay).bind_tools([get_weather])
    history: list[object] = [HumanMessage("Use the tool: what is the weather in Rome?")]
    with get_holysheep_callback() as cb:
        first = llm.invoke(history)
        assert first.tool_calls
        history.append(first)
        history += [get_weather.invoke(call) for call in first.tool_calls]
        assert isinstance(history[-1], ToolMessage)
        final = llm.invoke(history)
    assert isinstance(final.content, str)
    assert final.content
    assert cb.requests == 2
    assert cb.total_tokens > 0
    assert cb.total_cost > 0


@pytest.mark.vcr
def test_embeddings(cassette_relay: tuple[str, str]) -> None:
    base_url, api_key = cassette_relay
    emb = HolySheepEmbeddings(
        model="text-embedding-3-small", base_url=base_url, api_key=api_key, chunk_size=2
    )
    vectors = emb.embed_documents(["red apple", "green pear", "blue sky"])
    assert len(vectors) == 3
    assert len({len(v) for v in vectors}) == 1
    assert len(vectors[0]) > 0


def test_cassettes_hold_no_secrets() -> None:
    files = [p for p in CASSETTES.rglob("*") if p.is_file()]
    assert len(files) >= 8  # this module's cassettes and the standard suite's
    for path in files:
        text = path.read_text("utf-8")
        assert cassette_config.find_secrets(text) == [], path
        assert "hs_test_key" not in text, path
        assert "authorization" not in text.lower(), path
