"""Known models: context window, output limit, capabilities and aliases, shipped as data.

Unknown models still work: they get conservative defaults, not an error. The live
``/models`` endpoint is the truth about what the relay serves; this catalog is what we know
about each model's limits.

>>> spec = get_model_spec("sonnet-4")
>>> spec.id, spec.context_window, spec.supports_tools
('claude-sonnet-4-20250514', 200000, True)
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = ["ModelSpec", "close_matches", "get_model_spec", "known_model_ids", "resolve_model"]


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


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, str]]:
    text = resources.files("holysheep_relay").joinpath("data/catalog.json").read_text("utf-8")
    data = json.loads(text)
    models: dict[str, dict[str, Any]] = data["models"]
    aliases = {a.lower(): mid for mid, m in models.items() for a in m.get("aliases", ())}
    return data["defaults"], models, aliases


def resolve_model(model: str) -> str:
    """Map a short alias (``sonnet-4``) to its full id; anything else is returned unchanged."""
    _, models, aliases = _load()
    if model in models:
        return model
    return aliases.get(model.lower(), model)


def known_model_ids(include_aliases: bool = True) -> list[str]:
    _, models, aliases = _load()
    ids = list(models)
    return ids + list(aliases) if include_aliases else ids


def close_matches(model: str, candidates: list[str] | None = None) -> list[str]:
    pool = candidates if candidates is not None else known_model_ids(include_aliases=False)
    return difflib.get_close_matches(model, pool, n=3, cutoff=0.5)


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
    )
