"""Structured output through ``response_format`` JSON schema (pure helpers, no I/O)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

__all__ = ["json_schema_kwargs", "parse_structured"]

_NAME = re.compile(r"[^a-zA-Z0-9_-]")


def json_schema_kwargs(
    output_cls: type[BaseModel], llm_kwargs: dict[str, Any] | None, *, strict: bool
) -> dict[str, Any]:
    """Chat kwargs asking for a JSON object that validates against ``output_cls``."""
    schema = output_cls.model_json_schema()
    name = _NAME.sub("_", str(schema.get("title") or output_cls.__name__))[:64]
    kwargs = {
        k: v
        for k, v in (llm_kwargs or {}).items()
        if k not in ("tool_choice", "tool_required", "tools")
    }
    kwargs["response_format"] = {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": schema, "strict": strict},
    }
    return kwargs


def parse_structured(output_cls: type[BaseModel], content: str | None) -> Any:
    """Validate the model's JSON answer (pydantic's ValidationError, a ValueError, if bad)."""
    return output_cls.model_validate_json(content or "")
