"""Usage events, USD cost from a pricing table, and a thread-safe ledger.

Prices are estimates (the relay's published figures disagree); the table ships as package
data with its sources and can be overridden per client. An unknown price gives
``cost_usd=None``, never 0.

>>> pricing = Pricing.default().with_overrides({"my-model": ModelPrice(input=1.0, output=2.0)})
>>> pricing.cost("my-model", Usage(prompt_tokens=1_000_000, completion_tokens=500_000))
2.0
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from .catalog import resolve_model
from .errors import ConfigurationError
from .wire import Usage

__all__ = [
    "ModelPrice",
    "ModelTotals",
    "Pricing",
    "UsageCallback",
    "UsageEvent",
    "UsageLedger",
    "as_callbacks",
    "as_pricing",
    "format_report",
    "notify",
]

logger = logging.getLogger("holysheep_relay")


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens. ``cached_input`` None: cached input billed as input."""

    input: float
    output: float
    cached_input: float | None = None

    def cost(self, usage: Usage) -> float:
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        cached_rate = self.input if self.cached_input is None else self.cached_input
        return (
            (usage.prompt_tokens - cached) * self.input
            + cached * cached_rate
            + usage.completion_tokens * self.output
        ) / 1_000_000


@lru_cache(maxsize=1)
def _default_prices() -> dict[str, ModelPrice]:
    text = resources.files("holysheep_relay").joinpath("data/pricing.json").read_text("utf-8")
    return {
        mid: ModelPrice(input=p["input"], output=p["output"], cached_input=p.get("cached_input"))
        for mid, p in json.loads(text)["prices"].items()
    }


PriceLike = ModelPrice | Mapping[str, float]


def _coerce_price(value: PriceLike) -> ModelPrice:
    if isinstance(value, ModelPrice):
        return value
    return ModelPrice(
        input=float(value["input"]),
        output=float(value["output"]),
        cached_input=(
            float(value["cached_input"]) if value.get("cached_input") is not None else None
        ),
    )


class Pricing:
    """A model id -> price table. ``Pricing.default()`` is the shipped estimate."""

    def __init__(self, prices: Mapping[str, PriceLike]) -> None:
        self._prices = {k: _coerce_price(v) for k, v in prices.items()}

    @classmethod
    def default(cls) -> Pricing:
        return cls(_default_prices())

    @classmethod
    def coerce(cls, value: Pricing | Mapping[str, PriceLike] | None) -> Pricing:
        """None -> default table; a mapping -> default table overridden by it."""
        if value is None:
            return cls.default()
        if isinstance(value, Pricing):
            return value
        return cls.default().with_overrides(value)

    def with_overrides(self, prices: Mapping[str, PriceLike]) -> Pricing:
        merged: dict[str, PriceLike] = dict(self._prices)
        merged.update(prices)
        return Pricing(merged)

    def price(self, model: str) -> ModelPrice | None:
        """The price of ``model`` as written, else of the catalog id it is an alias of."""
        return self._prices.get(model) or self._prices.get(resolve_model(model))

    def cost(self, model: str, usage: Usage | None) -> float | None:
        price = self.price(model)
        if price is None or usage is None:
            return None
        return price.cost(usage)

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.price(model) is not None

    def items(self) -> Iterable[tuple[str, ModelPrice]]:
        return self._prices.items()


@dataclass(frozen=True)
class UsageEvent:
    """One request's usage, as delivered to ``on_usage`` callbacks."""

    model: str
    usage: Usage | None
    cost_usd: float | None
    latency_ms: float
    request_id: str | None
    streamed: bool = False

    @property
    def prompt_tokens(self) -> int:
        return self.usage.prompt_tokens if self.usage else 0

    @property
    def completion_tokens(self) -> int:
        return self.usage.completion_tokens if self.usage else 0

    @property
    def total_tokens(self) -> int:
        return self.usage.total_tokens if self.usage else 0


UsageCallback = Callable[[UsageEvent], Any]


def notify(callbacks: Iterable[UsageCallback], event: UsageEvent) -> None:
    """Deliver ``event`` to each callback; a failing callback is logged, never raised.

    >>> def broken(event: UsageEvent) -> None:
    ...     raise RuntimeError("bug in a callback")
    >>> seen: list[UsageEvent] = []
    >>> notify([broken, seen.append], UsageEvent("gpt-4.1", None, None, 1.0, "req_1"))
    >>> [e.request_id for e in seen]
    ['req_1']
    """
    for callback in callbacks:
        try:
            callback(event)
        except Exception:  # a broken callback must not break the call
            logger.exception("on_usage callback %r failed", callback)


def as_callbacks(on_usage: object) -> tuple[UsageCallback, ...]:
    """``on_usage`` (None, a callable or a list of callables) as a tuple of callables.

    Raises ``ConfigurationError`` for anything else.
    """
    if on_usage is None:
        return ()
    if callable(on_usage):
        return (on_usage,)
    if isinstance(on_usage, Iterable) and not isinstance(on_usage, (str, bytes)):
        callbacks = tuple(on_usage)
        if all(callable(cb) for cb in callbacks):
            return callbacks
    raise ConfigurationError("on_usage must be a callable or a list of callables")


def as_pricing(pricing: Pricing | Mapping[str, PriceLike] | None) -> Pricing:
    """:meth:`Pricing.coerce`, with ``ConfigurationError`` for a malformed table."""
    try:
        return Pricing.coerce(pricing)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigurationError(f"invalid pricing: {exc!r}") from None


@dataclass
class ModelTotals:
    """Totals for one model (or overall) in a :class:`UsageLedger`."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_requests: int = 0  # requests whose cost is unknown (not counted in cost_usd)
    requests_without_usage: int = 0  # the relay sent no usage: their tokens are not counted

    def add(self, event: UsageEvent) -> None:
        self.requests += 1
        u = event.usage
        if u is None:
            self.requests_without_usage += 1
        else:
            self.prompt_tokens += u.prompt_tokens
            self.completion_tokens += u.completion_tokens
            self.total_tokens += u.total_tokens
            self.cached_tokens += u.cached_tokens
            self.reasoning_tokens += u.reasoning_tokens
        if event.cost_usd is None:
            self.unpriced_requests += 1
        else:
            self.cost_usd += event.cost_usd


@dataclass
class UsageLedger:
    """A thread-safe ``on_usage`` callback that totals per model and overall.

    >>> ledger = UsageLedger()
    >>> ledger(UsageEvent("gpt-4.1", Usage(prompt_tokens=3, completion_tokens=2,
    ...                                     total_tokens=5), 0.00002, 12.0, "req_1"))
    >>> ledger.total.total_tokens, ledger.by_model["gpt-4.1"].requests
    (5, 1)
    """

    total: ModelTotals = field(default_factory=ModelTotals)
    by_model: dict[str, ModelTotals] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, event: UsageEvent) -> None:
        with self._lock:
            self.total.add(event)
            self.by_model.setdefault(event.model, ModelTotals()).add(event)

    def report(self) -> str:
        """A small plain-text table: requests, tokens and USD per model.

        ``+?`` after a USD figure: some requests had no known price; a last line says how
        many requests came back without usage (their tokens are missing from the totals).
        """
        with self._lock:
            return format_report(self.by_model, self.total)


def format_report(by_model: Mapping[str, ModelTotals], total: ModelTotals) -> str:
    """The table of :meth:`UsageLedger.report` for these totals (also used by the Redis
    ledger)."""
    lines = [f"{'model':32} {'reqs':>5} {'prompt':>8} {'output':>8} {'usd':>10}"]
    for name, t in [*sorted(by_model.items()), ("TOTAL", total)]:
        usd = f"{t.cost_usd:.6f}" + ("+?" if t.unpriced_requests else "")
        lines.append(
            f"{name:32} {t.requests:>5} {t.prompt_tokens:>8} {t.completion_tokens:>8} {usd:>10}"
        )
    missing = total.requests_without_usage
    if missing:
        lines.append(f"{missing} request(s) came back without usage: token and USD totals are low")
    return "\n".join(lines)
