"""Connection settings shared by ``ChatHolySheep`` and ``HolySheepEmbeddings``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import httpx
from langchain_core.utils import from_env, secret_from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr

from holysheep_relay import (
    API_KEY_ENV,
    BASE_URL_ENV,
    AsyncRelayClient,
    ClientSpec,
    RelayClient,
    Timeouts,
    UsageEvent,
    async_client,
    sync_client,
)
from holysheep_relay.usage import notify

__all__ = ["RelaySettings"]

UsageCallback = Callable[[UsageEvent], Any]


class RelaySettings(BaseModel):
    """Key, URL, timeouts, retries, headers, client-side limits and usage callbacks.

    Validated when the model is built (a missing key or a bad URL raises
    ``ConfigurationError`` right away, before any request). Models with equal settings
    share one pooled connection client (``holysheep_relay.pool``); shared clients get no
    ``on_usage`` callbacks: usage is reported per model by the adapter.
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
    default_headers: dict[str, str] | None = None
    requests_per_minute: float | None = None
    """Client-side request budget, shared by all models with the same key and limits."""
    tokens_per_minute: float | None = None
    """Client-side token budget (estimated before a call, corrected from real usage)."""
    on_usage: UsageCallback | list[UsageCallback] | None = Field(default=None, exclude=True)
    """Called with one ``UsageEvent`` per completed request (tokens, USD cost, latency)."""

    _spec: ClientSpec = PrivateAttr()

    def _init_relay(self) -> None:
        """Validate the connection settings; call right after pydantic validation."""
        self._spec = ClientSpec.build(
            self.api_key,
            self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            default_headers=self.default_headers,
            requests_per_minute=self.requests_per_minute,
            tokens_per_minute=self.tokens_per_minute,
        )

    def _sync_client(self) -> RelayClient:
        return sync_client(self._spec)

    async def _async_client(self) -> AsyncRelayClient:
        return await async_client(self._spec)

    def _usage_callbacks(self) -> Sequence[UsageCallback]:
        callbacks = self.on_usage
        if callbacks is None:
            return ()
        return (callbacks,) if callable(callbacks) else callbacks

    def _report_usage(self, event: UsageEvent) -> None:
        notify(self._usage_callbacks(), event)
