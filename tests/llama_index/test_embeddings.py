"""HolySheepEmbedding: sync and async, single and batched, any model, dimensions, errors."""

from __future__ import annotations

import math

import pytest

from holysheep_relay import (
    AuthenticationError,
    ConfigurationError,
    InvalidInputError,
    RateLimitError,
)
from holysheep_relay.testing import DEFAULT_DIMENSIONS, Emulator, embed_text
from llama_index_holysheep import HolySheepEmbedding
from tests.emulator_fixtures import TEST_API_KEY

TEXTS = [f"text number {i} about topic {i % 3}" for i in range(7)]


def _embedder(emulator: Emulator, **kw: object) -> HolySheepEmbedding:
    return HolySheepEmbedding(api_key=TEST_API_KEY, base_url=emulator.base_url, **kw)


def _close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(
        math.isclose(x, y, abs_tol=1e-6) for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("sync", [True, False])
async def test_batches_follow_embed_batch_size(emulator: Emulator, sync: bool) -> None:
    embed = _embedder(emulator, embed_batch_size=3)
    if sync:
        vectors = embed.get_text_embedding_batch(TEXTS)
    else:
        vectors = await embed.aget_text_embedding_batch(TEXTS)
    assert all(_close(v, embed_text(t)) for v, t in zip(vectors, TEXTS, strict=True))
    bodies = [r.json for r in emulator.requests]
    # async batches are sent concurrently: compare the batches, not their arrival order
    assert sorted(b["input"] for b in bodies) == sorted([TEXTS[0:3], TEXTS[3:6], TEXTS[6:]])
    assert all(b["encoding_format"] == "float" for b in bodies)


@pytest.mark.parametrize("sync", [True, False])
async def test_single_text_and_query(emulator: Emulator, sync: bool) -> None:
    embed = _embedder(emulator)
    if sync:
        text, query = embed.get_text_embedding("hello"), embed.get_query_embedding("world")
    else:
        text = await embed.aget_text_embedding("hello")
        query = await embed.aget_query_embedding("world")
    assert _close(text, embed_text("hello"))
    assert _close(query, embed_text("world"))
    assert len(text) == DEFAULT_DIMENSIONS
    assert [r.json["input"] for r in emulator.requests] == [["hello"], ["world"]]


async def test_dimensions_and_any_model_name(emulator: Emulator) -> None:
    emulator.models.append("vendor/custom-embedder-v9")
    try:
        embed = _embedder(emulator, model="vendor/custom-embedder-v9", dimensions=16)
        vector = await embed.aget_text_embedding("hello")
    finally:
        emulator.models.remove("vendor/custom-embedder-v9")
    assert len(vector) == 16
    [body] = [r.json for r in emulator.requests]
    assert body["model"] == "vendor/custom-embedder-v9"
    assert body["dimensions"] == 16


@pytest.mark.parametrize("sync", [True, False])
async def test_errors_are_typed_and_retried_once_layer(emulator: Emulator, sync: bool) -> None:
    emulator.add_fault("rate_limit", times=3, path="/embeddings", retry_after=0)
    embed = _embedder(emulator, max_retries=2)
    if sync:
        with pytest.raises(RateLimitError):
            embed.get_text_embedding("hello")
    else:
        with pytest.raises(RateLimitError):
            await embed.aget_text_embedding("hello")
    assert emulator.attempts("/embeddings") == 3
    emulator.add_fault("auth_error", path="/embeddings")
    with pytest.raises(AuthenticationError):
        embed.get_query_embedding("hello")
    with pytest.raises(InvalidInputError):
        embed.get_text_embedding("")  # the relay rejects empty strings: caught before sending
    assert emulator.attempts("/embeddings") == 4


def test_key_is_not_serialised(emulator: Emulator) -> None:
    from tests.llama_index.conftest import SECRET_KEY

    embed = HolySheepEmbedding(api_key=SECRET_KEY, base_url=emulator.base_url)
    for text in (repr(embed), str(embed), embed.to_json(), embed.model_dump_json()):
        assert SECRET_KEY not in text
    assert "api_key" not in embed.to_dict()
    assert SECRET_KEY not in str(embed.to_payload())


@pytest.mark.parametrize("kw", [{"model": ""}, {"model_name": " "}, {"model": 5}])
def test_an_empty_model_is_refused_naming_model(kw: dict[str, object]) -> None:
    """An explicit empty id is a mistake (an unset env var), not a request for the default."""
    with pytest.raises(ConfigurationError, match=r"needs a non-empty model id, e\.g\. model="):
        HolySheepEmbedding(api_key=TEST_API_KEY, **kw)
    assert HolySheepEmbedding(api_key=TEST_API_KEY).model_name == "text-embedding-3-small"
