"""``ClientOptions``: the one list of client settings, shared by every constructor.

``RelayClient``, ``AsyncRelayClient`` and ``ClientSpec.build`` take these as keyword
arguments (``**options: Unpack[ClientOptions]``), so the list is written once, here.

>>> from holysheep_relay import RelayClient, RetryPolicy
>>> client = RelayClient(api_key="hs_example_key_0123456789", timeout=30,
...                      retry_policy=RetryPolicy(max_retries=5))
>>> client.retry_policy.max_retries
5
>>> client.close()
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

import httpx

from .budget import SpendBudget
from .config import Timeouts
from .ratelimit import Limiter
from .retry import RetryPolicy
from .usage import PriceLike, Pricing, UsageCallback

__all__ = ["ClientOptions"]


class ClientOptions(TypedDict, total=False):
    """Keyword settings of a relay client (all optional)."""

    timeout: float | Timeouts | httpx.Timeout | None
    """Seconds (read and write; connect capped at 10), or ``Timeouts(...)``."""
    max_retries: int
    """Retries of connect errors and 408/409/429/5xx (default 2); see ``retry_policy``."""
    default_headers: Mapping[str, str] | None
    """Extra HTTP headers (never ``Authorization``)."""
    rate_limiter: Limiter | None
    """Requests / tokens per minute: a ``RateLimiter`` (this process) or a
    ``RedisRateLimiter`` (a fleet), shareable between clients."""
    budget: SpendBudget | None
    """A USD cap (``SpendBudget``): calls that cannot fit are refused before sending."""
    on_usage: UsageCallback | Sequence[UsageCallback] | None
    """Called with one ``UsageEvent`` per completed request."""
    pricing: Pricing | Mapping[str, PriceLike] | None
    """USD per million tokens overriding the shipped estimates."""
    retry_policy: RetryPolicy | None
    """The whole retry decision; replaces ``max_retries`` when given."""
    sleep: Callable[[float], Any] | None
    """How a client waits (retries, rate limits): ``time.sleep`` / ``asyncio.sleep`` by
    default; an async client awaits what it returns. Tests pass a fake."""
