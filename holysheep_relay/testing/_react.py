"""Deterministic answers to ReAct-style prompts (text-only tool use, no ``tools`` field).

Agents such as LlamaIndex's ``ReActAgent`` describe their tools in the prompt and parse the
reply as ``Thought:`` / ``Action:`` / ``Action Input:`` text. A request is treated as a ReAct
request when its messages contain all three markers and a tool list, either
``> Tool Name: <name>`` lines (optionally followed by ``Tool Args: <JSON schema>``) or
``one of [name, ...]``. The answer is then:

1. no message starting with ``Observation:`` yet -> an action on the first listed tool::

       Thought: I need to use a tool to help me answer the question.
       Action: <first tool>
       Action Input: <JSON synthesised from its Tool Args schema and the last user text>

2. once an ``Observation:`` message (any role) is in the conversation -> a final answer::

       Thought: I can answer without using any more tools. I'll use the user's language to answer
       Answer: <text of the last observation>
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from ._synth import synthesize
from ._tokens import message_text

__all__ = ["react_answer"]

_MARKERS = ("Thought:", "Action:", "Action Input:")
_TOOL_NAME = re.compile(r"^>\s*Tool Name:\s*(\S+)\s*$", re.MULTILINE)
_TOOL_ARGS = re.compile(r"^Tool Args:\s*(\{.*\})\s*$", re.MULTILINE)
_ONE_OF = re.compile(r"one of \[([^\]\n]+)\]")
_OBSERVATION = "Observation:"


def _tools(instructions: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, parameters schema) of each listed tool, in order."""
    names = list(_TOOL_NAME.finditer(instructions))
    tools: list[tuple[str, dict[str, Any]]] = []
    for position, match in enumerate(names):
        end = names[position + 1].start() if position + 1 < len(names) else len(instructions)
        args = _TOOL_ARGS.search(instructions, match.end(), end)
        schema: Any = {"type": "object"}
        if args:
            with contextlib.suppress(ValueError):
                schema = json.loads(args.group(1))
        tools.append((match.group(1), schema if isinstance(schema, dict) else {}))
    if not tools:
        listed = _ONE_OF.search(instructions)
        if listed:
            for name in listed.group(1).split(","):
                if name.strip().strip("'\""):
                    tools.append((name.strip().strip("'\""), {"type": "object"}))
    return tools


def react_answer(messages: list[Any]) -> str | None:
    """The ReAct-format reply to ``messages``, or None when they are not a ReAct prompt."""
    texts = [
        (m.get("role"), message_text(m.get("content"))) for m in messages if isinstance(m, dict)
    ]
    instructions = "\n".join(text for _, text in texts)
    if not all(marker in instructions for marker in _MARKERS):
        return None
    tools = _tools(instructions)
    if not tools:
        return None
    observations = [t for _, t in texts if t.lstrip().startswith(_OBSERVATION)]
    if observations:
        observed = observations[-1].lstrip()[len(_OBSERVATION) :].strip()
        return (
            "Thought: I can answer without using any more tools. I'll use the user's "
            f"language to answer\nAnswer: {observed}"
        )
    question = next(
        (t for role, t in reversed(texts) if role == "user" and not t.startswith(_OBSERVATION)),
        "",
    )
    name, schema = tools[0]
    arguments = synthesize(schema, re.sub(re.escape(name), " ", question, flags=re.I))
    return (
        "Thought: I need to use a tool to help me answer the question.\n"
        f"Action: {name}\nAction Input: {json.dumps(arguments)}"
    )
