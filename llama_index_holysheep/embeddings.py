"""``HolySheepEmbedding``: LlamaIndex embeddings served by the HolySheep relay."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import Field, PrivateAttr, SecretStr

from holysheep_relay import (
    ConfigurationError,
    EmbeddingResult,
    Limiter,
    Pricing,
    RetryPolicy,
    SpendBudget,
    Timeouts,
)
from holysheep_relay.provider import (
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    PriceLike,
    Provider,
    UsageCallback,
    UsageReporter,
    normalize_base_url,
    resolve_api_key,
)

from ._connection import RelayConnection

__all__ = ["DEFAULT_EMBEDDING_MODEL", "HolySheepEmbedding"]

DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small"


class HolySheepEmbedding(RelayConnection, BaseEmbedding):
    """Embeddings from the HolySheep relay, sync and async, batched by ``embed_batch_size``.

    Any model id the relay serves works (no whitelist); ``dimensions`` shortens vectors on
    models that support it.

    >>> from llama_index.core import Settings
    >>> from llama_index_holysheep import HolySheepEmbedding
    >>> Settings.embed_model = HolySheepEmbedding(model="text-embedding-3-large")  # doctest: +SKIP
    >>> len(Settings.embed_model.get_text_embedding("hello"))  # doctest: +SKIP
    3072
    """

    api_key: SecretStr = Field(exclude=True, repr=False)
    api_base: str = Field(default=DEFAULT_BASE_URL)
    dimensions: int | None = Field(default=None, gt=0)
    timeout: float | Timeouts | None = Field(default=None)
    max_retries: int = Field(default=2, ge=0)
    retry_policy: RetryPolicy | None = Field(
        default=None,
        exclude=True,
        description="The whole retry decision (holysheep_relay.RetryPolicy); replaces max_retries.",
    )
    default_headers: dict[str, str] | None = Field(default=None)
    additional_kwargs: dict[str, Any] = Field(default_factory=dict)

    _relay_limiter: Limiter | None = PrivateAttr(default=None)
    _budget: SpendBudget | None = PrivateAttr(default=None)
    _budget_pricing: Any = PrivateAttr(default=None)
    _usage: UsageReporter = PrivateAttr(default=UsageReporter())
    _provider_cache: Provider | None = PrivateAttr(default=None)

    def __init__(
        self,
        model_name: str | None = None,
        api_key: str | SecretStr | None = None,
        api_base: str | None = None,
        *,
        model: str | None = None,
        base_url: str | None = None,
        rate_limiter: Any = None,
        budget: SpendBudget | None = None,
        on_usage: UsageCallback | Sequence[UsageCallback] | None = None,
        pricing: Pricing | Mapping[str, PriceLike] | None = None,
        **kwargs: Any,
    ) -> None:
        name = next((m for m in (model_name, model) if m is not None), DEFAULT_EMBEDDING_MODEL)
        if not isinstance(name, str) or not name.strip():  # an explicit "" is not the default
            raise ConfigurationError(
                "HolySheepEmbedding needs a non-empty model id, e.g. "
                f"model={DEFAULT_EMBEDDING_MODEL!r} (model_name= works too); got {name!r}"
            )
        url = api_base or base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        relay_limiter = rate_limiter if isinstance(rate_limiter, Limiter) else None
        fields: dict[str, Any] = {
            "model_name": name.strip(),
            "api_key": resolve_api_key(api_key),
            "api_base": normalize_base_url(url),
            "rate_limiter": None if relay_limiter is not None else rate_limiter,
        }
        super().__init__(**fields, **kwargs)
        self._relay_limiter = relay_limiter
        self._budget, self._budget_pricing = budget, pricing
        self._usage = UsageReporter.build(on_usage, pricing)  # the model's own, not the client's
        self._provider()  # validate the client settings now, before any request

    @classmethod
    def class_name(cls) -> str:
        return "HolySheepEmbedding"

    def _params(self, texts: Sequence[str]) -> dict[str, Any]:
        return {
            **self.additional_kwargs,
            "model": self.model_name,
            "input": list(texts),
            "dimensions": self.dimensions,
        }

    # -- sync and async differ only in the I/O call ------------------------------------

    def _vectors(self, result: EmbeddingResult) -> list[Embedding]:
        self._usage.report(result, self.model_name, streamed=False)
        return result.vectors

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._vectors(self._provider().client().embed(**self._params(texts)))

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        client = await self._provider().async_client()
        return self._vectors(await client.embed(**self._params(texts)))

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aget_text_embeddings([text]))[0]

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._get_text_embeddings([query])[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return (await self._aget_text_embeddings([query]))[0]
