"""Known models: context window, output limit, capabilities and aliases, shipped as data.

A convenience, never the authority: the relay decides. The model id a caller writes is sent
unchanged (aliases only find metadata here; :func:`resolve_model` is an explicit, opt-in
way to expand a short name), nothing is refused on these figures, and a relay's own
``/models`` data wins (:meth:`RelayClient.model_info`). Figures with ``verified`` set come
from the model vendor's documentation; the rest are the relay articles' numbers. Unknown
models get conservative defaults, not an error.

>>> spec = get_model_spec("sonnet-4")
>>> spec.id, spec.context_window, spec.supports_tools
('claude-sonnet-4-20250514', 200000, True)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = ["ModelSpec", "get_model_spec", "known_model_ids", "resolve_model"]


@dataclass(frozen=True)
class ModelSpec:
    id: str
    known: bool
    family: str = "unknown"
    context_window: int = 32768
    max_output_tokens: int = 4096
    supports_tools: bool = True
    supports_json_mode: bool = False
    supports_json_schema: bool = False
    supports_vision: bool = False
    supports_reasoning: bool = False
    is_embedding: bool = False
    dimensions: int | None = None
    aliases: tuple[str, ...] = ()
    verified: bool = False
    """True when the limits come from the model vendor's documentation, not blog posts."""


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, str]]:
    text = resources.files("holysheep_relay").joinpath("data/catalog.json").read_text("utf-8")
    data = json.loads(text)
    models: dict[str, dict[str, Any]] = data["models"]
    aliases = {a.lower(): mid for mid, m in models.items() for a in m.get("aliases", ())}
    return data["defaults"], models, aliases


def resolve_model(model: str) -> str:
    """Map a short alias (``sonnet-4``) to its catalog id; anything else is returned unchanged.

    The clients never call this on what they send: use it explicitly when you want the
    short-name convenience, e.g. ``RelayClient().chat(model=resolve_model("sonnet-4"), ...)``.
    """
    _, models, aliases = _load()
    if model in models:
        return model
    return aliases.get(model.lower(), model)


def known_model_ids(include_aliases: bool = True) -> list[str]:
    _, models, aliases = _load()
    ids = list(models)
    return ids + list(aliases) if include_aliases else ids


@lru_cache(maxsize=256)
def get_model_spec(model: str) -> ModelSpec:
    """Capabilities of ``model`` (aliases resolved); conservative defaults when unknown."""
    defaults, models, _ = _load()
    mid = resolve_model(model)
    entry = models.get(mid)
    merged = {**defaults, **(entry or {})}
    return ModelSpec(
        id=mid,
        known=entry is not None,
        family=str(merged.get("family", "unknown")),
        context_window=int(merged["context_window"]),
        max_output_tokens=int(merged["max_output_tokens"]),
        supports_tools=bool(merged["tools"]),
        supports_json_mode=bool(merged["json_mode"]),
        supports_json_schema=bool(merged["json_schema"]),
        supports_vision=bool(merged["vision"]),
        supports_reasoning=bool(merged["reasoning"]),
        is_embedding=bool(merged["embedding"]),
        dimensions=merged.get("dimensions"),
        aliases=tuple(merged.get("aliases", ())) if entry else (),
        verified=bool(entry and entry.get("verified")),
    )
