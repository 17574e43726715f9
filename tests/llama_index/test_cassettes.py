"""Recorded exchanges (cassettes/llama_index/test_cassettes/), replayed offline.

Re-record against the emulator with ``--record-mode=rewrite``, or against the live relay
with ``HOLYSHEEP_RECORD_LIVE=1`` and a real ``HOLYSHEEP_API_KEY`` (answers then differ from
the emulator's, so the content assertions below only check shape, not wording).
"""

from __future__ import annotations

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.llms import ChatMessage
from llama_index.core.prompts import PromptTemplate
from pydantic import BaseModel

from llama_index_holysheep import HolySheep, HolySheepEmbedding

pytestmark = pytest.mark.vcr


def multiply(a: int, b: int) -> int:
    """Multiply two integers and return the product."""
    return a * b


class City(BaseModel):
    """A city and its population."""

    name: str
    population: int


def _llm(relay: tuple[str, str], **kw: object) -> HolySheep:
    base_url, key = relay
    return HolySheep(model="gpt-4.1", api_key=key, base_url=base_url, **kw)


def test_chat_and_stream_with_usage(cassette_relay: tuple[str, str]) -> None:
    counter = TokenCountingHandler(tokenizer=list)
    llm = _llm(cassette_relay, callback_manager=CallbackManager([counter]), max_tokens=64)
    messages = [ChatMessage(role="user", content="Name one French city.")]
    reply = llm.chat(messages)
    assert reply.message.content
    streamed = list(llm.stream_chat(messages))
    assert "".join(r.delta or "" for r in streamed) == streamed[-1].message.content
    usages = [reply.raw["usage"], streamed[-1].raw["usage"]]
    assert [e.total_token_count for e in counter.llm_token_counts] == [
        u["total_tokens"] for u in usages
    ]
    assert all(u["prompt_tokens"] > 0 for u in usages)


async def test_function_agent_reaches_an_answer_through_a_tool(
    cassette_relay: tuple[str, str],
) -> None:
    agent = FunctionAgent(tools=[multiply], llm=_llm(cassette_relay), streaming=True)
    answer = await agent.run(user_msg="What is 6 times 7? Use the multiply tool.")
    assert "42" in str(answer)


def test_structured_predict(cassette_relay: tuple[str, str]) -> None:
    prompt = PromptTemplate("Give the city {city} with population {population}.")
    city = _llm(cassette_relay).structured_predict(City, prompt, city="Lyon", population=522000)
    assert isinstance(city, City)
    assert city.name


async def test_query_engine_over_relay_embeddings(cassette_relay: tuple[str, str]) -> None:
    base_url, key = cassette_relay
    embed = HolySheepEmbedding(api_key=key, base_url=base_url, dimensions=64)
    index = VectorStoreIndex.from_documents(
        [
            Document(text="The Louvre museum is in Paris, the capital of France."),
            Document(text="Tokyo is the capital of Japan."),
        ],
        embed_model=embed,
    )
    engine = index.as_query_engine(llm=_llm(cassette_relay), similarity_top_k=1)
    response = await engine.aquery("Where is the Louvre museum?")
    assert response.source_nodes[0].node.get_content().startswith("The Louvre")
    assert str(response)
