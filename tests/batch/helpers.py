"""Writing batch inputs and reading batch outputs, for tests/batch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from holysheep_relay.testing import Emulator

__all__ = ["lines_of", "prompt_counts", "prompts_file", "successes", "write_lines"]


def write_lines(path: Path, rows: list[Any]) -> Path:
    text = "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows)
    path.write_text(text, encoding="utf-8")
    return path


def prompts_file(path: Path, n: int, prefix: str = "prompt") -> Path:
    """``n`` OpenAI Batch API chat lines; line i has custom_id ``req-i``, prompt ``prefix i``."""
    rows = [
        {
            "custom_id": f"req-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {
                "model": "gpt-4.1",
                "max_tokens": 20,
                "messages": [{"role": "user", "content": f"{prefix} {i}"}],
            },
        }
        for i in range(n)
    ]
    return write_lines(path, rows)


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def successes(path: Path) -> dict[str, list[dict[str, Any]]]:
    """custom_id -> its success lines."""
    seen: dict[str, list[dict[str, Any]]] = {}
    for line in lines_of(path):
        if line["error"] is None:
            seen.setdefault(line["custom_id"], []).append(line)
    return seen


def prompt_counts(emulator: Emulator) -> dict[str, int]:
    """How many chat requests the emulator received for each prompt."""
    counts: dict[str, int] = {}
    for request in emulator.requests:
        messages = (request.json or {}).get("messages") or []
        if request.path == "/chat/completions" and messages:
            text = messages[-1]["content"]
            counts[text] = counts.get(text, 0) + 1
    return counts
