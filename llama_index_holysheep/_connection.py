"""The shared pooled-client spec of a LlamaIndex model (the LLM and the embedding alike)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from holysheep_relay import ClientSpec
from holysheep_relay.config import resolve_api_key

__all__ = ["copy_update", "pooled_spec"]


def copy_update(update: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """``model_copy``'s update, with a new ``api_key`` validated into a ``SecretStr``
    (``model_copy`` skips validation: a plain string would show in ``repr``)."""
    if update and "api_key" in update:
        return {**update, "api_key": resolve_api_key(update["api_key"])}
    return update


def pooled_spec(model: Any) -> ClientSpec:
    """``model``'s client spec, cached on it until a public field changes.

    Reads the connection fields both model classes share (``api_key``, ``api_base``,
    ``timeout``, ``max_retries``, ``default_headers``, optional per-minute limits and an
    explicit core ``RateLimiter``); equal specs share one pooled client.
    """
    spec: ClientSpec | None = model._spec
    if spec is None:
        spec = model._spec = ClientSpec.build(
            model.api_key,
            model.api_base,
            timeout=model.timeout,
            max_retries=model.max_retries,
            default_headers=model.default_headers,
            requests_per_minute=getattr(model, "requests_per_minute", None),
            tokens_per_minute=getattr(model, "tokens_per_minute", None),
            rate_limiter=model._relay_limiter,
        )
    return spec
