"""Deterministic token accounting used by the emulator (and by tests computing expected usage).

A "token" is a whitespace-separated word. Prompt tokens are the words of every message
(text content parts and assistant tool calls) plus ``MESSAGE_OVERHEAD`` per message and
``TOOL_OVERHEAD`` per declared tool. Completion tokens are the words of the content, the
reasoning text and each tool call (``name + " " + arguments``), at least 1 per choice.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "MESSAGE_OVERHEAD",
    "TOOL_OVERHEAD",
    "completion_tokens",
    "count_prompt_tokens",
    "count_tokens",
    "message_text",
    "split_words",
]

MESSAGE_OVERHEAD = 3
TOOL_OVERHEAD = 10

_PIECE = re.compile(r"\s*\S+")


def count_tokens(text: str | None) -> int:
    """Number of whitespace-separated words in ``text`` (0 for empty/None)."""
    return len(text.split()) if text else 0


def split_words(text: str) -> list[str]:
    """Split ``text`` into word pieces that keep their leading whitespace.

    ``"".join(split_words(t)) == t`` always holds and ``len(split_words(t)) ==
    count_tokens(t)`` whenever ``t`` contains a word (trailing whitespace joins the last piece).
    """
    if not text:
        return []
    pieces = _PIECE.findall(text)
    tail = text[len("".join(pieces)) :]
    if not pieces:
        return [text]
    if tail:
        pieces[-1] += tail
    return pieces


def message_text(content: Any) -> str:
    """Text of a message ``content``: a string, or the ``text`` of a list of content parts.

    Non-text parts (images, audio, files) are ignored; parts are joined with a space.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
        return " ".join(texts)
    return str(content)


def _tool_call_tokens(tool_calls: Any) -> int:
    total = 0
    if isinstance(tool_calls, list):
        for call in tool_calls:
            function = call.get("function", {}) if isinstance(call, dict) else {}
            if isinstance(function, dict):
                name = str(function.get("name") or "")
                arguments = str(function.get("arguments") or "")
                total += count_tokens(f"{name} {arguments}")
    return total


def count_prompt_tokens(body: dict[str, Any]) -> int:
    """Prompt tokens the emulator reports for a chat-completions request ``body``."""
    total = 0
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if not isinstance(message, dict):
                continue
            total += MESSAGE_OVERHEAD + count_tokens(message_text(message.get("content")))
            total += _tool_call_tokens(message.get("tool_calls"))
    tools = body.get("tools")
    if isinstance(tools, list):
        total += TOOL_OVERHEAD * len(tools)
    return total


def completion_tokens(
    content: str | None = None,
    reasoning: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
) -> int:
    """Completion tokens of one choice: content + reasoning + tool-call words, at least 1."""
    total = count_tokens(content) + count_tokens(reasoning) + _tool_call_tokens(tool_calls)
    return max(1, total)
