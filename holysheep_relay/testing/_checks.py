"""Chat requests the real relay rejects, rejected the same way: 400 and OpenAI's error body.

``{"error": {"message", "type": "invalid_request_error", "param", "code"}}`` with OpenAI's
wording, ``param`` and ``code`` (``missing_required_parameter``, ``invalid_type``,
``invalid_value``, ``empty_array``, ``string_above_max_length``,
``invalid_function_parameters``), for:

- ``messages`` missing, not an array, or empty;
- a message that is not an object, has no ``role`` or an unknown one, has no ``content``
  (``null`` counts as none) where it is required (every role except an assistant message
  carrying ``tool_calls``), or is a ``tool`` message without ``tool_call_id``;
- ``tools`` not an array; a tool that is not an object, has no ``type`` (or not
  ``"function"``), no ``function`` object, no name, a name not matching
  ``^[a-zA-Z0-9_-]{1,64}$``, or ``parameters`` that are not an object schema (not a dict,
  or a ``type`` other than ``"object"``; ``{}`` and a schema without ``type`` are accepted).
"""

from __future__ import annotations

import re
from typing import Any

from ._faults import ErrorReply, api_error

__all__ = ["TOOL_NAME", "chat_request_error"]

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
ROLES = ("system", "assistant", "user", "function", "tool", "developer")
_SUPPORTED_ROLES = "'system', 'assistant', 'user', 'function', 'tool', and 'developer'"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _missing(param: str) -> ErrorReply:
    message = f"Missing required parameter: '{param}'."
    return api_error(400, message, code="missing_required_parameter", param=param)


def _wrong_type(param: str, expected: str, value: Any) -> ErrorReply:
    message = (
        f"Invalid type for '{param}': expected {expected}, but got {_json_type(value)} instead."
    )
    return api_error(400, message, code="invalid_type", param=param)


def _message_error(message: Any, index: int) -> ErrorReply | None:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        return _wrong_type(where, "an object", message)
    role = message.get("role")
    if role is None:
        return _missing(f"{where}.role")
    if role not in ROLES:
        text = f"Invalid value: {role!r}. Supported values are: {_SUPPORTED_ROLES}."
        return api_error(400, text, code="invalid_value", param=f"{where}.role")
    content = message.get("content")
    calls = message.get("tool_calls") or message.get("function_call")
    if content is None and not (role == "assistant" and calls):
        return _missing(f"{where}.content")
    if content is not None and not isinstance(content, (str, list)):
        return _wrong_type(f"{where}.content", "one of a string or array of objects", content)
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        return _missing(f"{where}.tool_call_id")
    return None


def _messages_error(body: dict[str, Any]) -> ErrorReply | None:
    if "messages" not in body:
        return _missing("messages")
    messages = body["messages"]
    if not isinstance(messages, list):
        return _wrong_type("messages", "an array", messages)
    if not messages:
        text = (
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got"
            " an empty array instead."
        )
        return api_error(400, text, code="empty_array", param="messages")
    for index, message in enumerate(messages):
        error = _message_error(message, index)
        if error is not None:
            return error
    return None


def _name_error(name: Any, where: str) -> ErrorReply | None:
    param = f"{where}.name"
    if name is None:
        return _missing(param)
    if not isinstance(name, str):
        return _wrong_type(param, "a string", name)
    if len(name) > 64:
        text = (
            f"Invalid '{param}': string too long. Expected a string with maximum length 64, but"
            f" got a string with length {len(name)} instead."
        )
        return api_error(400, text, code="string_above_max_length", param=param)
    if not TOOL_NAME.match(name):
        text = (
            f"Invalid '{param}': string does not match pattern. Expected a string that matches"
            " the pattern '^[a-zA-Z0-9_-]+$'."
        )
        return api_error(400, text, code="invalid_value", param=param)
    return None


def _parameters_error(function: dict[str, Any], where: str) -> ErrorReply | None:
    if "parameters" not in function:
        return None
    param = f"{where}.parameters"
    parameters = function["parameters"]
    if not isinstance(parameters, dict):
        return _wrong_type(param, "an object", parameters)
    kind = parameters.get("type", "object")
    if kind != "object":
        text = (
            f"Invalid schema for function '{function['name']}': schema must be a JSON Schema of"
            f" 'type: \"object\"', got 'type: \"{kind}\"'."
        )
        return api_error(400, text, code="invalid_function_parameters", param=param)
    return None


def _tool_error(tool: Any, index: int) -> ErrorReply | None:
    where = f"tools[{index}]"
    if not isinstance(tool, dict):
        return _wrong_type(where, "an object", tool)
    if "type" not in tool:
        return _missing(f"{where}.type")
    if tool["type"] != "function":
        text = f"Invalid value: {tool['type']!r}. Supported values are: 'function' and 'custom'."
        return api_error(400, text, code="invalid_value", param=f"{where}.type")
    function = tool.get("function")
    if function is None:
        return _missing(f"{where}.function")
    if not isinstance(function, dict):
        return _wrong_type(f"{where}.function", "an object", function)
    where = f"{where}.function"
    return _name_error(function.get("name"), where) or _parameters_error(function, where)


def _tools_error(body: dict[str, Any]) -> ErrorReply | None:
    tools = body.get("tools")
    if tools is None:
        return None
    if not isinstance(tools, list):
        return _wrong_type("tools", "an array", tools)
    for index, tool in enumerate(tools):
        error = _tool_error(tool, index)
        if error is not None:
            return error
    return None


def chat_request_error(body: dict[str, Any]) -> ErrorReply | None:
    """The 400 reply OpenAI gives a malformed chat request ``body``; ``None`` if it is fine."""
    return _messages_error(body) or _tools_error(body)
