"""Checks on chat-completions transcripts, shared by the adapters' agent-loop tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["assert_wire_transcript_well_formed", "tool_call_owner"]


def tool_call_owner(messages: Sequence[dict[str, Any]], position: int) -> dict[str, Any] | None:
    """The message a tool message at ``position`` answers: the nearest earlier non-tool
    message (sibling tool results of one assistant turn sit between them), or None."""
    back = position - 1
    while back >= 0 and messages[back].get("role") == "tool":
        back -= 1
    return messages[back] if back >= 0 else None


def assert_wire_transcript_well_formed(messages: Sequence[dict[str, Any]]) -> None:
    """OpenAI's rule: every ``tool`` message follows (after its sibling tool messages) the
    ``assistant`` message whose ``tool_calls`` carry its ``tool_call_id``."""
    for position, message in enumerate(messages):
        if message.get("role") != "tool":
            continue
        owner = tool_call_owner(messages, position)
        assert owner is not None, f"tool message {position} opens the transcript: {messages}"
        assert owner.get("role") == "assistant", (
            f"tool message {position} follows a {owner.get('role')} message: {messages}"
        )
        ids = [call.get("id") for call in owner.get("tool_calls") or ()]
        assert message.get("tool_call_id") in ids, (
            f"tool message {position} answers {message.get('tool_call_id')!r}, but the "
            f"assistant message before it calls {ids}: {messages}"
        )
