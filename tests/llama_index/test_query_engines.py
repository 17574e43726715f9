"""End to end: VectorStoreIndex -> query engines and a chat engine, with HolySheep as the LLM.

The emulator echoes the last user message, so an answer that contains the retrieved text
proves the retrieved context reached the relay inside the prompt.
"""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.embeddings import MockEmbedding

from holysheep_relay.testing import Emulator
from llama_index_holysheep import HolySheep, HolySheepEmbedding

PARIS = "Paris is the capital of France and home of the Louvre museum."
TOKYO = "Tokyo is the capital of Japan and has many sushi restaurants."
QUESTION = "Which museum is in the capital of France?"


@pytest.fixture(params=["mock", "holysheep"])
def embed(request: pytest.FixtureRequest, embed_model: HolySheepEmbedding) -> BaseEmbedding:
    if request.param == "mock":
        return MockEmbedding(embed_dim=8)
    return embed_model


def _index(embed: BaseEmbedding) -> VectorStoreIndex:
    return VectorStoreIndex.from_documents(
        [Document(text=PARIS), Document(text=TOKYO)], embed_model=embed
    )


def _chat_bodies(emulator: Emulator) -> list[dict[str, Any]]:
    return [r.json for r in emulator.requests if r.path == "/chat/completions"]


def test_query(emulator: Emulator, llm: HolySheep, embed: BaseEmbedding) -> None:
    engine = _index(embed).as_query_engine(llm=llm, similarity_top_k=2)
    response = engine.query(QUESTION)
    assert str(response).startswith("Hello! You said:")
    assert QUESTION in str(response)
    assert PARIS in str(response)
    assert {n.node.get_content() for n in response.source_nodes} == {PARIS, TOKYO}
    [body] = _chat_bodies(emulator)
    assert PARIS in str(body["messages"])
    if isinstance(embed, HolySheepEmbedding):  # documents and the query were embedded
        assert emulator.attempts("/embeddings") == 2


def test_relay_embeddings_retrieve_the_relevant_document(
    emulator: Emulator, llm: HolySheep, embed_model: HolySheepEmbedding
) -> None:
    engine = _index(embed_model).as_query_engine(llm=llm, similarity_top_k=1)
    response = engine.query("Where is the Louvre museum?")
    assert [n.node.get_content() for n in response.source_nodes] == [PARIS]
    assert TOKYO not in str(response)


def test_streaming_query(emulator: Emulator, llm: HolySheep, embed: BaseEmbedding) -> None:
    engine = _index(embed).as_query_engine(llm=llm, streaming=True, similarity_top_k=2)
    response = engine.query(QUESTION)
    tokens = list(response.response_gen)  # type: ignore[union-attr]
    assert len(tokens) > 10  # word by word
    text = "".join(tokens)
    assert text.startswith("Hello! You said:")
    assert PARIS in text
    assert QUESTION in text
    [body] = _chat_bodies(emulator)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


async def test_aquery(emulator: Emulator, llm: HolySheep, embed: BaseEmbedding) -> None:
    engine = _index(embed).as_query_engine(llm=llm, similarity_top_k=2)
    response = await engine.aquery(QUESTION)
    assert PARIS in str(response)
    assert QUESTION in str(response)
    assert len(_chat_bodies(emulator)) == 1


async def test_streaming_aquery(emulator: Emulator, llm: HolySheep, embed: BaseEmbedding) -> None:
    engine = _index(embed).as_query_engine(llm=llm, streaming=True, similarity_top_k=2)
    response = await engine.aquery(QUESTION)
    text = "".join([t async for t in response.async_response_gen()])  # type: ignore[union-attr]
    assert PARIS in text
    assert QUESTION in text


def test_condense_plus_context_chat_engine(
    emulator: Emulator, llm: HolySheep, embed: BaseEmbedding
) -> None:
    engine = _index(embed).as_chat_engine(
        chat_mode="condense_plus_context", llm=llm, similarity_top_k=2
    )
    first = engine.chat("Tell me about the Louvre.")
    assert str(first).startswith("Hello! You said: Tell me about the Louvre.")
    second = engine.chat("And which city is it in?")
    assert str(second).startswith("Hello! You said:")
    bodies = _chat_bodies(emulator)
    # turn 1: answer; turn 2: condense the question with the history, then answer
    assert len(bodies) == 3
    condense = bodies[1]["messages"][-1]["content"]
    assert "Tell me about the Louvre." in condense
    assert "And which city is it in?" in condense
    answer_messages = bodies[2]["messages"]
    assert answer_messages[0]["role"] == "system"
    assert PARIS in answer_messages[0]["content"]
    assert [m["role"] for m in answer_messages[1:]] == ["user", "assistant", "user"]
    assert answer_messages[2]["content"] == str(first)


async def test_condense_plus_context_streaming_chat(
    emulator: Emulator, llm: HolySheep, embed: BaseEmbedding
) -> None:
    engine = _index(embed).as_chat_engine(
        chat_mode="condense_plus_context", llm=llm, similarity_top_k=2
    )
    streamed = await engine.astream_chat("Tell me about the Louvre.")
    text = "".join([t async for t in streamed.async_response_gen()])
    assert text == "Hello! You said: Tell me about the Louvre."
    assert len(_chat_bodies(emulator)) == 1
