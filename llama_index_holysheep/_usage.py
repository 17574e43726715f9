"""Per-model usage reporting: a model's own ``on_usage`` callbacks and pricing override.

Neither goes into the shared pooled client (``holysheep_relay.pool`` keeps one client per
distinct configuration, so per-model objects there would mean one connection pool per model
object); the adapter reports each completed request to the model's callbacks itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from holysheep_relay import (
    ChatCompletion,
    EmbeddingResult,
    Pricing,
    StreamResult,
    UsageEvent,
)
from holysheep_relay.usage import PriceLike, UsageCallback, as_callbacks, as_pricing, notify

__all__ = ["UsageReporter"]


@dataclass(frozen=True)
class UsageReporter:
    """A model's ``on_usage`` callbacks and optional pricing override (see :meth:`build`).

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

    def report(
        self,
        result: ChatCompletion | StreamResult | EmbeddingResult,
        model: str,
        *,
        streamed: bool,
    ) -> UsageEvent:
        """The request's one ``UsageEvent``, delivered to the callbacks (failures logged).

        ``model`` is the requested id, used when the relay's reply names none.
        """
        name = result.model or model
        cost = result.cost_usd if self.pricing is None else self.pricing.cost(name, result.usage)
        event = UsageEvent(name, result.usage, cost, result.latency_ms, result.request_id, streamed)
        notify(self.callbacks, event)
        return event
