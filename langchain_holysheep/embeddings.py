"""``HolySheepEmbeddings``: LangChain embeddings over the HolySheep relay core."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from langchain_core.embeddings import Embeddings
from pydantic import Field

from holysheep_relay import EmbeddingResult, InvalidInputError

from ._settings import RelaySettings, require_model
from .errors import langchain_errors

__all__ = ["HolySheepEmbeddings"]

_CONCURRENT_BATCHES = 8


def batches(texts: Sequence[str], size: int) -> list[list[str]]:
    """``texts`` cut into consecutive batches of at most ``size`` (order kept).

    Every text is checked first, so a bad one fails before any batch is sent.
    """
    if size < 1:
        raise InvalidInputError(f"chunk_size must be >= 1, got {size!r}")
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text:
            raise InvalidInputError(
                f"texts[{i}] must be a non-empty string, got {text!r}; the relay rejects those"
            )
    return [list(texts[i : i + size]) for i in range(0, len(texts), size)]


class HolySheepEmbeddings(RelaySettings, Embeddings):
    """Embeddings (``text-embedding-3-small`` / ``-large``...) through the HolySheep relay.

    Same connection settings, usage callbacks and typed errors as ``ChatHolySheep``.

    >>> from langchain_holysheep import HolySheepEmbeddings
    >>> emb = HolySheepEmbeddings(model="text-embedding-3-small", api_key="hs_example_key_01234")
    >>> emb.chunk_size
    1000
    >>> vectors = emb.embed_documents(["first text", "second text"])  # doctest: +SKIP
    """

    model: str = Field(alias="model_name")
    """Embedding model id."""
    dimensions: int | None = None
    """Shorter vectors, for models that support it (``text-embedding-3-*``)."""
    chunk_size: int = 1000
    """Texts per request; larger inputs are split into several requests."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra request-body parameters."""

    def __init__(self, **kwargs: Any) -> None:
        require_model("HolySheepEmbeddings", kwargs, "text-embedding-3-small")
        super().__init__(**kwargs)
        self._init_relay()

    def _params(self) -> dict[str, Any]:
        return {"dimensions": self.dimensions, **self.model_kwargs}

    def _collect(self, result: EmbeddingResult) -> list[list[float]]:
        self._report_usage(result, self.model, streamed=False)
        return result.vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order (batched by ``chunk_size``)."""
        out: list[list[float]] = []
        client = self._sync_client()
        with langchain_errors():
            for batch in batches(texts, self.chunk_size):
                result = client.embed(model=self.model, input=batch, **self._params())
                out.extend(self._collect(result))
        return out

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async ``embed_documents``; up to 8 batches in flight at once, order is kept."""
        client = await self._async_client()
        gate = asyncio.Semaphore(_CONCURRENT_BATCHES)

        async def one(batch: list[str]) -> EmbeddingResult:
            async with gate:
                return await client.embed(model=self.model, input=batch, **self._params())

        with langchain_errors():
            results = await asyncio.gather(*(one(b) for b in batches(texts, self.chunk_size)))
        return [vector for result in results for vector in self._collect(result)]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    async def aembed_query(self, text: str) -> list[float]:
        return (await self.aembed_documents([text]))[0]
