"""Checks of a call's arguments, made before any I/O (pure, except one logged warning).

Only what is certainly wrong is refused: input invalid by protocol, or longer than a limit
the relay itself published. The catalog's figures never refuse (see ``check_input_size``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .catalog import get_model_spec
from .errors import ContextLengthExceededError, InvalidInputError

logger = logging.getLogger("holysheep_relay")

__all__ = [
    "check_input_size",
    "check_messages",
    "check_model",
    "check_range",
    "check_tools",
    "content_chars",
]

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def check_range(name: str, value: Any, low: float, high: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"{name} must be a number, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise InvalidInputError(f"{name} must be {bound}, got {value!r}")


def check_messages(messages: Any) -> None:
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise InvalidInputError(
            "messages must be a list of {'role': ..., 'content': ...} dicts, "
            f"got {type(messages).__name__}"
        )
    if not messages:
        raise InvalidInputError("messages is empty: send at least one message")
    for i, msg in enumerate(messages):
        if not isinstance(msg, Mapping):
            raise InvalidInputError(f"messages[{i}] must be a dict, got {type(msg).__name__}")
        role = msg.get("role")
        if role not in _ROLES:
            raise InvalidInputError(
                f"messages[{i}] has role {role!r}; expected one of {sorted(_ROLES)}"
            )
        content = msg.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise InvalidInputError(
                f"messages[{i}].content must be a string or a list of content parts"
            )
        if role == "tool" and not msg.get("tool_call_id"):
            raise InvalidInputError(f"messages[{i}] is a tool message without tool_call_id")


# OpenAI's rule for function names; Anthropic's and Gemini's are the same or looser.
_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_TOOL_SHAPE = "{'type': 'function', 'function': {'name': 'get_weather', 'parameters': {...}}}"


def check_tools(tools: Any) -> None:
    """Tool definitions as chat completions takes them: a list of function tools, each with a
    valid name and, if given, ``parameters`` that are a JSON-schema object.

    ``parameters`` must be a dict whose ``type``, when present, is ``"object"`` (``{}`` and a
    schema without ``type`` are accepted, as OpenAI does); leaving it out means "no
    arguments". Only ``"type": "function"`` tools exist in chat completions.
    """
    if tools is None:
        return
    if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Sequence):
        raise InvalidInputError(
            f"tools must be a list of tool definitions like {_TOOL_SHAPE}, "
            f"got {type(tools).__name__}"
        )
    for i, tool in enumerate(tools):
        _check_tool(i, tool)


def _check_tool(i: int, tool: Any) -> None:
    if not isinstance(tool, Mapping):
        raise InvalidInputError(
            f"tools[{i}] must be a dict like {_TOOL_SHAPE}, got {type(tool).__name__}"
        )
    if tool.get("type") != "function":
        got = "no 'type'" if "type" not in tool else f"type {tool['type']!r}"
        raise InvalidInputError(
            f"tools[{i}] has {got}; chat completions only takes function tools: write it as "
            f"{_TOOL_SHAPE}"
        )
    function = tool.get("function")
    if not isinstance(function, Mapping):
        raise InvalidInputError(
            f"tools[{i}] has no 'function' dict; put the name, description and parameters "
            f"inside it: {_TOOL_SHAPE}"
        )
    name = function.get("name")
    if name is None or name == "":
        raise InvalidInputError(
            f"tools[{i}] has no function name; give it one, e.g. function.name='get_weather' "
            "(the model calls tools by name)"
        )
    if not isinstance(name, str) or not _TOOL_NAME.fullmatch(name):
        shown = repr(name) if len(repr(name)) <= 80 else repr(name)[:77] + "..."
        raise InvalidInputError(
            f"tools[{i}] has function name {shown}; names must be 1-64 letters, digits, '_' "
            "or '-' (no spaces, dots or other characters), e.g. 'get_weather'"
        )
    description = function.get("description")
    if description is not None and not isinstance(description, str):
        raise InvalidInputError(
            f"tools[{i}] ({name}) has a {type(description).__name__} description; use a string"
        )
    _check_parameters(i, name, function.get("parameters"))


def _check_parameters(i: int, name: str, parameters: Any) -> None:
    if parameters is None:
        return
    if not isinstance(parameters, Mapping):
        raise InvalidInputError(
            f"tools[{i}] ({name}) has parameters of type {type(parameters).__name__}; they must "
            "be a JSON schema dict like {'type': 'object', 'properties': {...}}"
        )
    kind = parameters.get("type", "object")
    if kind != "object":
        raise InvalidInputError(
            f"tools[{i}] ({name}) has parameters of JSON-schema type {kind!r}; a tool's "
            "arguments are an object: wrap them as {'type': 'object', 'properties': "
            "{'value': <your schema>}, 'required': ['value']}"
        )


def check_model(model: Any) -> None:
    """Only what no relay can accept; the id itself is sent exactly as written."""
    if not isinstance(model, str) or not model.strip():
        raise InvalidInputError("model must be a non-empty model id, e.g. 'gpt-4.1'")
    if any(ch.isspace() for ch in model):
        raise InvalidInputError(
            f"model {model!r} contains whitespace; model ids look like 'claude-sonnet-4.5' "
            "(run `holysheep models` to list them)"
        )


def content_chars(messages: Sequence[Any]) -> int:
    """Characters of text across messages (string content and text parts)."""
    total = 0
    for msg in messages:
        content = msg.get("content") if isinstance(msg, Mapping) else msg
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                    total += len(part["text"])
        if isinstance(msg, Mapping) and msg.get("tool_calls"):
            total += len(str(msg["tool_calls"]))
    return total


# Very few tokens span more than 6 characters, so chars / 6 is a floor on the token count:
# an input above a limit by that measure is certainly too long, with no false alarms.
_MAX_CHARS_PER_TOKEN = 6

_warned_long: set[str] = set()


def check_input_size(model: str, chars: int, published_limit: int | None) -> None:
    """Refuse before sending only when the input certainly exceeds a limit the relay itself
    published (its ``/models`` data); a catalog figure only ever earns a warning."""
    floor = chars // _MAX_CHARS_PER_TOKEN
    if published_limit is not None:
        if floor > published_limit:
            raise ContextLengthExceededError(
                f"the input (at least {floor:,} tokens, {chars:,} characters) is longer than "
                f"the {published_limit:,} input tokens the relay's /models lists for "
                f"{model}; shorten the messages or pick a model with a larger window",
                code="context_length_exceeded",
            )
        return
    spec = get_model_spec(model)
    if spec.known and floor > spec.context_window and model not in _warned_long:
        _warned_long.add(model)
        logger.warning(
            "the input to %s (at least %s tokens) looks longer than the catalog's %s-token "
            "window (%s figure); sending it anyway: the relay decides",
            model,
            f"{floor:,}",
            f"{spec.context_window:,}",
            "a verified" if spec.verified else "an unverified",
        )
