"""The relay connection both LlamaIndex classes share: one core ``Provider`` per settings.

Reads only the model's own public fields (``api_key``, ``api_base``, ``timeout``,
``max_retries``, ``default_headers``, optional per-minute limits), the core rate limiter
(``RateLimiter`` / ``RedisRateLimiter``) and ``SpendBudget`` it was given; equal settings
share one pooled client in the core.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from typing_extensions import Self

from holysheep_relay import Limiter, RetryPolicy, SpendBudget
from holysheep_relay.provider import Provider, resolve_api_key

__all__ = ["RelayConnection"]


class RelayConnection:
    """Mixin for a LlamaIndex pydantic model that talks to the relay (see the module doc).

    The model declares the fields and private attributes: ``_provider_cache`` (None),
    ``_relay_limiter`` (a core limiter or None), ``_budget`` (a ``SpendBudget`` or None)
    and ``_budget_pricing`` (the prices the budget's worst cases use).
    """

    if TYPE_CHECKING:
        api_key: Any
        api_base: str
        timeout: Any
        max_retries: int
        retry_policy: RetryPolicy | None
        default_headers: dict[str, str] | None
        _provider_cache: Provider | None
        _relay_limiter: Limiter | None
        _budget: SpendBudget | None
        _budget_pricing: Any

        def _super_copy(self, update: Mapping[str, Any] | None, deep: bool) -> Self: ...

    def _provider(self) -> Provider:
        """This model's provider, cached until a public field changes."""
        provider = self._provider_cache
        if provider is None:
            provider = self._provider_cache = Provider(
                self.api_key,
                self.api_base,
                requests_per_minute=getattr(self, "requests_per_minute", None),
                tokens_per_minute=getattr(self, "tokens_per_minute", None),
                timeout=self.timeout,
                max_retries=self.max_retries,
                retry_policy=self.retry_policy,
                default_headers=self.default_headers,
                rate_limiter=self._relay_limiter,
                budget=self._budget,
                pricing=self._budget_pricing if self._budget is not None else None,
            )
        return provider

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if not name.startswith("_"):
            self._provider_cache = None  # rebuilt on next use; equal settings, same client

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy whose client follows its own settings (a new ``api_key`` included).

        ``model_copy`` skips validation: a new key is made a ``SecretStr`` here, so it never
        shows in ``repr``.
        """
        if update and "api_key" in update:
            update = {**update, "api_key": resolve_api_key(update["api_key"])}
        copy: Self = super().model_copy(update=update, deep=deep)  # type: ignore[misc]
        copy._provider_cache = None
        copy._provider()  # validated now, as in __init__
        return copy
