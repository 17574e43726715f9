"""Scripted answers: exact replies queued by a test, one consumed per chat request.

A :class:`ScriptedAnswer` overrides the deterministic answer of :mod:`._chat` for one
request, streamed or not: its ``text`` (or ``json``) and ``tool_calls`` replace the content
of every choice, ``reasoning`` and ``finish_reason`` replace theirs, and ``usage`` is merged
over the usage the emulator computes (nested ``*_details`` objects key by key;
``total_tokens`` follows ``prompt_tokens + completion_tokens`` unless given). A script that
sets neither ``text``, ``json`` nor ``tool_calls`` keeps the computed content.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._chat import ChatPlan, ChoicePlan
from ._tokens import completion_tokens, count_tokens

__all__ = ["ScriptQueue", "ScriptedAnswer", "apply_script", "make_answer"]

_UNSET: Any = object()


@dataclass(frozen=True)
class ScriptedAnswer:
    """One queued answer (normalised by :func:`make_answer`)."""

    text: str | None = None
    tool_calls: tuple[tuple[str | None, str, str], ...] = ()  # (id or None, name, arguments)
    reasoning: str | None = None
    usage: Mapping[str, Any] | None = None
    finish_reason: str | None = None

    @property
    def replaces_content(self) -> bool:
        return self.text is not None or bool(self.tool_calls)


def _tool_call(call: Any, position: int) -> tuple[str | None, str, str]:
    if not isinstance(call, Mapping):
        raise TypeError(f"tool_calls[{position}] must be a dict, not {type(call).__name__}")
    function = call.get("function")
    source = function if isinstance(function, Mapping) else call  # OpenAI shape or flat
    name = source.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"tool_calls[{position}] needs a 'name' (a non-empty string)")
    arguments = source.get("arguments", {})
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
    call_id = call.get("id")
    if call_id is not None and not isinstance(call_id, str):
        raise TypeError(f"tool_calls[{position}]['id'] must be a string")
    return call_id, name, arguments


def _check_usage(usage: Mapping[str, Any]) -> None:
    for key, value in usage.items():
        if isinstance(value, Mapping):
            _check_usage(value)
        elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"usage[{key!r}] must be an int >= 0 (or a dict of them)")


def make_answer(
    text: str | None = None,
    *,
    tool_calls: Sequence[Mapping[str, Any]] | None = None,
    json_value: Any = _UNSET,
    usage: Mapping[str, Any] | None = None,
    reasoning: str | None = None,
    finish_reason: str | None = None,
) -> ScriptedAnswer:
    """Check and normalise what :meth:`Emulator.script` was given."""
    if json_value is not _UNSET:
        if text is not None:
            raise ValueError("give text= or json=, not both")
        text = json.dumps(json_value, ensure_ascii=False)
    if text is not None and not isinstance(text, str):
        raise TypeError(f"text must be a string, not {type(text).__name__}")
    if isinstance(tool_calls, (str, bytes)) or (
        tool_calls is not None and not isinstance(tool_calls, Sequence)
    ):
        raise TypeError("tool_calls must be a list of dicts")
    calls = tuple(_tool_call(call, i) for i, call in enumerate(tool_calls or ()))
    if usage is not None:
        if not isinstance(usage, Mapping):
            raise TypeError("usage must be a dict such as {'prompt_tokens': 10}")
        _check_usage(usage)
    for name, value in (("reasoning", reasoning), ("finish_reason", finish_reason)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be a string")
    return ScriptedAnswer(text, calls, reasoning, dict(usage) if usage else None, finish_reason)


def _merged_usage(computed: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    usage = dict(computed)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(usage.get(key), dict):
            usage[key] = {**usage[key], **value}
        else:
            usage[key] = value
    if "total_tokens" not in override:
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return usage


def _choice(answer: ScriptedAnswer, old: ChoicePlan, next_call_id: Callable[[], str]) -> ChoicePlan:
    content, calls, finish = old.content, old.tool_calls, old.finish_reason
    if answer.replaces_content:
        content = answer.text
        calls = [
            {
                "id": call_id or next_call_id(),
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
            for call_id, name, arguments in answer.tool_calls
        ]
        finish = "tool_calls" if calls else "stop"
    reasoning = answer.reasoning if answer.reasoning is not None else old.reasoning
    return ChoicePlan(content, answer.finish_reason or finish, reasoning, calls)


def apply_script(
    plan: ChatPlan, answer: ScriptedAnswer, next_call_id: Callable[[], str]
) -> ChatPlan:
    """``plan`` with ``answer`` applied to every choice, and its usage recomputed."""
    choices = [_choice(answer, old, next_call_id) for old in plan.choices]
    completion = sum(completion_tokens(c.content, c.reasoning, c.tool_calls) for c in choices)
    usage = {**plan.usage, "completion_tokens": completion}
    usage["total_tokens"] = usage["prompt_tokens"] + completion
    details = dict(usage.get("completion_tokens_details") or {})
    details["reasoning_tokens"] = sum(count_tokens(c.reasoning) for c in choices)
    usage["completion_tokens_details"] = details
    if answer.usage:
        usage = _merged_usage(usage, answer.usage)
    return ChatPlan(plan.completion_id, plan.model, choices, usage)


@dataclass
class ScriptQueue:
    """FIFO of scripted answers, shared by the server's handler threads."""

    _answers: deque[ScriptedAnswer] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, answer: ScriptedAnswer) -> None:
        with self._lock:
            self._answers.append(answer)

    def take(self, *, keep: bool = False) -> ScriptedAnswer | None:
        """The next answer (``keep``: leave it queued, for a reply a fault will break)."""
        with self._lock:
            if not self._answers:
                return None
            return self._answers[0] if keep else self._answers.popleft()

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()

    def pending(self) -> int:
        with self._lock:
            return len(self._answers)
