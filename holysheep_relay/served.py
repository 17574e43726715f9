"""What each relay has published about its models (``GET /models``), per base URL.

The relay is the source of truth: once any client has listed a relay's models, the limits
it published (``max_input_tokens``, ``context_length``...) are preferred over the shipped
catalog by every client and adapter talking to that relay in this process, and its model
ids feed "did you mean" suggestions. Nothing here is fetched implicitly: it holds only what
a ``list_models()`` call returned.

>>> from holysheep_relay import ModelInfo
>>> record("http://127.0.0.1:1/v1", [ModelInfo(id="m", max_input_tokens=1000)])
>>> lookup("http://127.0.0.1:1/v1", "m").input_limit
1000
>>> forget("http://127.0.0.1:1/v1")
"""

from __future__ import annotations

import threading

from .wire import ModelInfo

__all__ = ["forget", "lookup", "model_ids", "record"]

_lock = threading.Lock()
_by_relay: dict[str, dict[str, ModelInfo]] = {}


def record(base_url: str, models: list[ModelInfo]) -> None:
    """Replace what is known about ``base_url``'s models with a fresh ``/models`` listing."""
    listing = {m.id: m for m in models}
    with _lock:
        _by_relay[base_url] = listing


def lookup(base_url: str, model: str) -> ModelInfo | None:
    """The relay's own entry for ``model`` (exact id), or None if it was never listed."""
    return _by_relay.get(base_url, {}).get(model)


def model_ids(base_url: str) -> list[str]:
    """The ids the relay listed last time (empty if never listed)."""
    return list(_by_relay.get(base_url, {}))


def forget(base_url: str | None = None) -> None:
    """Drop what is known about one relay (or all of them)."""
    with _lock:
        if base_url is None:
            _by_relay.clear()
        else:
            _by_relay.pop(base_url, None)
