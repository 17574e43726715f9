"""HolySheepEmbeddings against the emulator: batching, order, dimensions, errors, usage."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core import exceptions as lc

from holysheep_relay import UsageEvent
from holysheep_relay.testing import Emulator, embed_text
from langchain_holysheep import (
    AuthenticationError,
    HolySheepEmbeddings,
    InvalidInputError,
    RateLimitError,
)
from tests.langchain.helpers import KEY

TEXTS = ["the cat sat", "dogs bark loudly", "a cat and a dog", "rain in Spain", "hello"]


@pytest.fixture
def make_emb(emulator: Emulator) -> Callable[..., HolySheepEmbeddings]:
    def make(**kw: Any) -> HolySheepEmbeddings:
        kw.setdefault("model", "text-embedding-3-small")
        kw.setdefault("max_retries", 0)
        return HolySheepEmbeddings(api_key=KEY, base_url=emulator.base_url, **kw)

    return make


@pytest.fixture(params=["sync", "async"])
def embed(request: pytest.FixtureRequest) -> Callable[[HolySheepEmbeddings, list[str]], Any]:
    def run(emb: HolySheepEmbeddings, texts: list[str]) -> list[list[float]]:
        if request.param == "sync":
            return emb.embed_documents(texts)
        return asyncio.run(emb.aembed_documents(texts))

    return run


def test_batches_keep_order(
    emulator: Emulator, make_emb: Callable[..., HolySheepEmbeddings], embed: Any
) -> None:
    vectors = embed(make_emb(chunk_size=2), TEXTS)
    assert len(vectors) == len(TEXTS)
    for vector, text in zip(vectors, TEXTS, strict=True):
        assert vector == pytest.approx(embed_text(text))
    bodies = [r.json for r in emulator.requests]
    assert sorted(len(b["input"]) for b in bodies) == [1, 2, 2]
    assert sorted(t for b in bodies for t in b["input"]) == sorted(TEXTS)


def test_dimensions_and_model_kwargs(
    emulator: Emulator, make_emb: Callable[..., HolySheepEmbeddings], embed: Any
) -> None:
    vectors = embed(make_emb(dimensions=16, model_kwargs={"user": "u1"}), TEXTS[:2])
    assert [len(v) for v in vectors] == [16, 16]
    body = emulator.requests[-1].json
    assert body["dimensions"] == 16
    assert body["user"] == "u1"
    assert body["encoding_format"] == "float"


def test_query_twins(make_emb: Callable[..., HolySheepEmbeddings]) -> None:
    emb = make_emb()
    assert emb.embed_query("the cat") == pytest.approx(embed_text("the cat"))
    assert asyncio.run(emb.aembed_query("the cat")) == pytest.approx(embed_text("the cat"))


def test_empty_input_sends_nothing(
    emulator: Emulator, make_emb: Callable[..., HolySheepEmbeddings], embed: Any
) -> None:
    assert embed(make_emb(), []) == []
    assert emulator.requests == []


@pytest.mark.parametrize(
    ("kw", "texts", "match"),
    [
        ({"chunk_size": 1}, ["ok", "fine", ""], "texts\\[2\\]"),
        ({"chunk_size": 1}, ["ok", None], "non-empty string"),
        ({"chunk_size": 0}, ["ok"], "chunk_size"),
    ],
)
def test_bad_input_fails_before_any_request(
    emulator: Emulator,
    make_emb: Callable[..., HolySheepEmbeddings],
    embed: Any,
    kw: dict[str, Any],
    texts: list[str],
    match: str,
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        embed(make_emb(**kw), texts)
    assert emulator.requests == []


@pytest.mark.parametrize(
    ("kind", "params", "error", "parent"),
    [
        ("auth_error", {}, AuthenticationError, lc.ModelAuthenticationError),
        ("rate_limit", {"retry_after": 0}, RateLimitError, lc.ModelRateLimitError),
    ],
)
def test_relay_errors_are_typed(
    emulator: Emulator,
    make_emb: Callable[..., HolySheepEmbeddings],
    embed: Any,
    kind: str,
    params: dict[str, Any],
    error: type[Exception],
    parent: type[Exception],
) -> None:
    emulator.add_fault(kind, path="/embeddings", **params)
    with pytest.raises(error) as info:
        embed(make_emb(), TEXTS[:1])
    assert isinstance(info.value, parent)


def test_on_usage_once_per_request(
    make_emb: Callable[..., HolySheepEmbeddings], embed: Any
) -> None:
    events: list[UsageEvent] = []
    embed(make_emb(chunk_size=2, on_usage=events.append), TEXTS)
    assert len(events) == 3
    assert sum(e.total_tokens for e in events) == sum(len(t.split()) for t in TEXTS)
    assert all(e.model == "text-embedding-3-small" and e.cost_usd is not None for e in events)
