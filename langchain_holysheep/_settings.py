"""Connection settings shared by ``ChatHolySheep`` and ``HolySheepEmbeddings``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx
from langchain_core.utils import from_env, secret_from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator
from typing_extensions import Self

from holysheep_relay import (
    AsyncRelayClient,
    ChatCompletion,
    ConfigurationError,
    EmbeddingResult,
    Limiter,
    ModelInfo,
    Pricing,
    RateLimiter,
    RedisRateLimiter,
    RelayClient,
    RetryPolicy,
    SpendBudget,
    StreamResult,
    Timeouts,
    UsageEvent,
)
from holysheep_relay.provider import (
    API_KEY_ENV,
    BASE_URL_ENV,
    Provider,
    UsageReporter,
    published_model_info,
    resolve_api_key,
)

__all__ = ["RelaySettings", "require_model"]

UsageCallback = Callable[[UsageEvent], Any]
Priced = ChatCompletion | StreamResult | EmbeddingResult


def require_model(owner: str, kwargs: Mapping[str, Any], example: str) -> None:
    """``ConfigurationError`` naming ``model=`` (not pydantic's "model_name: Field required")
    when the constructor's ``kwargs`` give no usable model id."""
    model = kwargs.get("model", kwargs.get("model_name"))
    if model is None:
        raise ConfigurationError(
            f"{owner} needs model=..., e.g. model={example!r} (any id the relay serves; "
            "`holysheep models` lists them)"
        )
    if not isinstance(model, str) or not model.strip():
        raise ConfigurationError(
            f"{owner} needs a non-empty model id, e.g. model={example!r}; got {model!r}"
        )


class RelaySettings(BaseModel):
    """Key, URL, timeouts, retries, headers, client-side limits and usage callbacks.

    Validated when the model is built (a missing key or a bad URL raises
    ``ConfigurationError`` right away, before any request). Models with equal settings
    share one pooled connection client (a ``holysheep_relay.provider.Provider``); shared
    clients get no ``on_usage`` callbacks: usage is reported per model by the adapter.
    """

    model_config = ConfigDict(
        populate_by_name=True, arbitrary_types_allowed=True, protected_namespaces=()
    )

    api_key: SecretStr | None = Field(default_factory=secret_from_env(API_KEY_ENV, default=None))
    """Relay key; defaults to ``HOLYSHEEP_API_KEY``. Never shown in repr, logs or dumps."""
    base_url: str | None = Field(default_factory=from_env(BASE_URL_ENV, default=None))
    """Relay URL; defaults to ``HOLYSHEEP_BASE_URL``, else https://api.holysheep.ai/v1."""
    timeout: float | Timeouts | httpx.Timeout | None = None
    """Seconds (read and write; connect is capped at 10) or a ``Timeouts``."""
    max_retries: int = 2
    """Retries of connect errors, 408/409/429/5xx (with backoff and Retry-After)."""
    retry_policy: RetryPolicy | None = Field(default=None, exclude=True)
    """The whole retry decision (``holysheep_relay.RetryPolicy``); replaces ``max_retries``."""
    default_headers: dict[str, str] | None = None
    requests_per_minute: float | None = None
    """Client-side request budget, shared by all models with the same key and limits."""
    tokens_per_minute: float | None = None
    """Client-side token budget (estimated before a call, corrected from real usage)."""
    on_usage: UsageCallback | list[UsageCallback] | None = Field(default=None, exclude=True)
    """Called with one ``UsageEvent`` per completed request (tokens, USD cost, latency)."""
    pricing: Pricing | dict[str, Any] | None = Field(default=None, exclude=True)
    """USD per million tokens overriding the shipped estimates, e.g.
    ``{"gpt-4.1": {"input": 2.0, "output": 8.0}}`` or a ``Pricing``."""
    relay_rate_limiter: RateLimiter | RedisRateLimiter | None = Field(default=None, exclude=True)
    """A core ``holysheep_relay.RateLimiter`` (this process) or ``RedisRateLimiter`` (a
    fleet), shared between models and clients; also accepted as ``rate_limiter=``
    (LangChain's own ``InMemoryRateLimiter`` works there too)."""
    budget: SpendBudget | None = Field(default=None, exclude=True)
    """A ``holysheep_relay.SpendBudget``: a call that cannot fit its worst-case cost is
    refused with ``BudgetExceededError`` before it is sent (priced with ``pricing``)."""

    _provider: Provider = PrivateAttr()
    _pricing: Pricing | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _core_rate_limiter(cls, data: Any) -> Any:
        """``rate_limiter=RateLimiter(...)`` (the core's) goes to the relay client."""
        if isinstance(data, dict) and isinstance(data.get("rate_limiter"), Limiter):
            data = dict(data)
            data["relay_rate_limiter"] = data.pop("rate_limiter")
        return data

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy whose client follows its own settings (a new ``api_key`` included)."""
        if update and "api_key" in update:  # model_copy skips validation: keep it secret
            update = {**update, "api_key": resolve_api_key(update["api_key"])}
        copy = super().model_copy(update=update, deep=deep)
        copy._init_relay()
        return copy

    def _init_relay(self) -> None:
        """Validate the connection settings; call right after pydantic validation."""
        self._provider = Provider(
            self.api_key,
            self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            retry_policy=self.retry_policy,
            default_headers=self.default_headers,
            requests_per_minute=self.requests_per_minute,
            tokens_per_minute=self.tokens_per_minute,
            rate_limiter=self.relay_rate_limiter,
            budget=self.budget,
            # the budget prices worst cases in the client: it needs this model's prices
            pricing=self.pricing if self.budget is not None else None,
        )
        self._pricing = UsageReporter.build(self.on_usage, self.pricing).pricing  # validated

    def _published_model_info(self) -> ModelInfo | None:
        """This relay's own ``/models`` entry for the model, if a client has listed it."""
        return published_model_info(self.base_url, str(getattr(self, "model", "")))

    def _sync_client(self) -> RelayClient:
        return self._provider.client()

    async def _async_client(self) -> AsyncRelayClient:
        return await self._provider.async_client()

    def _report_usage(self, result: Priced, model: str, *, streamed: bool) -> UsageEvent:
        """The request's one ``UsageEvent`` (priced with ``pricing`` when given), delivered to
        this model's ``on_usage`` callbacks; ``result.cost_usd`` is updated to match."""
        reporter = UsageReporter.build(self.on_usage)
        if self._pricing is not None:
            reporter = UsageReporter(reporter.callbacks, self._pricing)
        return reporter.report(result, model, streamed=streamed)
