"""The one seam between the core and a framework adapter (ours, or one you write).

A provider's only job is an authenticated client: it validates the connection settings
once (``ConfigurationError`` before any I/O) and hands out the process-wide shared
``RelayClient`` / ``AsyncRelayClient`` for them, so cheap, copied model objects share one
connection pool. :class:`UsageReporter` is the one way to turn a finished request into a
``UsageEvent`` for a model's own callbacks and price table. Adapters import nothing from
the core but this module and ``holysheep_relay`` itself.

>>> from holysheep_relay.provider import Provider, close_clients
>>> provider = Provider("hs_example_key_0123456789", requests_per_minute=60)
>>> provider.client() is Provider("hs_example_key_0123456789", requests_per_minute=60).client()
True
>>> provider.base_url
'https://api.holysheep.ai/v1'
>>> close_clients()
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import SecretStr
from typing_extensions import Unpack

from . import served
from ._validate import check_tools
from .accumulate import StreamResult
from .client import AsyncRelayClient, RelayClient
from .config import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL, normalize_base_url, resolve_api_key
from .errors import ConfigurationError
from .options import ClientOptions
from .shared_clients import ClientSpec, aclose_clients, async_client, close_clients, sync_client
from .usage import (
    PriceLike,
    Pricing,
    UsageCallback,
    UsageEvent,
    as_callbacks,
    as_pricing,
    notify,
)
from .wire import ChatCompletion, EmbeddingResult, ModelInfo

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "ClientOptions",
    "ClientSpec",
    "PriceLike",
    "Provider",
    "UsageCallback",
    "UsageReporter",
    "aclose_clients",
    "check_tools",
    "close_clients",
    "normalize_base_url",
    "published_model_info",
    "resolve_api_key",
]


class Provider:
    """Authenticated, shared relay clients for one configuration.

    ``api_key`` None reads ``HOLYSHEEP_API_KEY``; ``base_url`` None reads
    ``HOLYSHEEP_BASE_URL`` (else the public relay). ``requests_per_minute`` /
    ``tokens_per_minute`` share one budget between every provider with the same key, URL
    and numbers; ``options`` are the clients' own (:class:`ClientOptions`).
    """

    __slots__ = ("spec",)

    def __init__(
        self,
        api_key: SecretStr | str | None = None,
        base_url: str | None = None,
        *,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        self.spec = ClientSpec.build(
            api_key,
            base_url,
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            **options,
        )

    def __repr__(self) -> str:
        return f"Provider(base_url={self.base_url!r})"

    @property
    def base_url(self) -> str:
        return self.spec.config.base_url

    def client(self) -> RelayClient:
        """The process-wide sync client for this configuration."""
        return sync_client(self.spec)

    async def async_client(self) -> AsyncRelayClient:
        """The process-wide async client (one connection pool per event loop inside)."""
        return await async_client(self.spec)

    def model_info(self, model: str) -> ModelInfo | None:
        """What the relay's ``/models`` published about ``model`` (after a listing)."""
        return served.lookup(self.base_url, model)


def published_model_info(base_url: str | None, model: str) -> ModelInfo | None:
    """What the relay at ``base_url`` (None: ``HOLYSHEEP_BASE_URL`` or the public relay)
    published about ``model`` in a ``/models`` listing, or None (not listed, or a URL that
    does not validate: the constructor reports that one)."""
    try:
        url = normalize_base_url(base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL)
    except ConfigurationError:
        return None
    return served.lookup(url, model)


Result = ChatCompletion | StreamResult | EmbeddingResult


@dataclass(frozen=True)
class UsageReporter:
    """A model's own ``on_usage`` callbacks and optional price table.

    Neither goes into the shared client (that would mean one connection pool per model
    object): the adapter reports each finished request here, once.

    >>> from holysheep_relay import Usage, UsageLedger
    >>> ledger = UsageLedger()
    >>> reporter = UsageReporter.build(ledger, {"my-model": {"input": 1.0, "output": 2.0}})
    >>> result = EmbeddingResult(vectors=[[0.0]], model="my-model",
    ...                          usage=Usage(prompt_tokens=1_000_000, total_tokens=1_000_000))
    >>> reporter.report(result, "my-model", streamed=False).cost_usd, ledger.total.cost_usd
    (1.0, 1.0)
    """

    callbacks: tuple[UsageCallback, ...] = ()
    pricing: Pricing | None = None  # None: the core's default table (the result's cost)

    @classmethod
    def build(
        cls,
        on_usage: UsageCallback | Sequence[UsageCallback] | None = None,
        pricing: Pricing | Mapping[str, PriceLike] | None = None,
    ) -> UsageReporter:
        """Validated now: ``ConfigurationError`` for a non-callable or a malformed table."""
        return cls(as_callbacks(on_usage), None if pricing is None else as_pricing(pricing))

    def report(self, result: Result, model: str, *, streamed: bool) -> UsageEvent:
        """The request's one ``UsageEvent``, delivered to the callbacks (failures logged).

        ``model`` is the requested id, used when the relay's reply names none; with a price
        table, ``result.cost_usd`` is updated to the table's figure too.
        """
        name = result.model or model
        if self.pricing is not None:
            result.cost_usd = self.pricing.cost(name, result.usage)
        event = UsageEvent(
            name, result.usage, result.cost_usd, result.latency_ms, result.request_id, streamed
        )
        notify(self.callbacks, event)
        return event
