"""LangChain -> wire: messages, tool definitions and ``tool_choice`` (pure functions, no I/O).

Plain ``str`` content (the common case) goes through untouched; content-block lists are
translated to OpenAI chat-completions parts. Roles keep their meaning: a ``SystemMessage``
stays ``system`` (relays in front of Claude and Gemini map it; ``developer`` only when the
message asks for it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.block_translators.openai import convert_to_openai_data_block
from langchain_core.messages.content import is_data_content_block

from holysheep_relay import InvalidInputError

__all__ = [
    "ai_text_and_reasoning",
    "message_to_dict",
    "messages_to_dicts",
    "tool_choice_param",
]

# Blocks that are model output, not something to send back as content.
_DROP_BLOCKS = frozenset(
    {"tool_use", "tool_call", "tool_call_chunk", "thinking", "reasoning", "reasoning_content"}
)
_CHOICE_KEYWORDS = frozenset({"auto", "none", "required"})


def _user_part(block: Any) -> dict[str, Any] | None:
    """One content block of a user/system/tool message as a chat-completions part."""
    if isinstance(block, str):
        return {"type": "text", "text": block}
    if not isinstance(block, dict):
        raise InvalidInputError(f"unsupported content block {block!r}")
    kind = block.get("type")
    if kind in _DROP_BLOCKS:
        return None
    if kind == "text":
        return {"type": "text", "text": block.get("text", "")}
    if kind == "image" and isinstance(source := block.get("source"), dict):  # Anthropic shape
        if source.get("type") == "base64":
            url = f"data:{source.get('media_type')};base64,{source.get('data')}"
        else:
            url = source.get("url", "")
        return {"type": "image_url", "image_url": {"url": url}}
    if is_data_content_block(block):
        try:
            return convert_to_openai_data_block(block)
        except (KeyError, ValueError) as exc:
            raise InvalidInputError(f"cannot send content block of type {kind!r}: {exc}") from exc
    return block


def _parts(content: str | list[Any]) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    parts = [p for p in (_user_part(b) for b in content) if p is not None]
    if all(p.get("type") == "text" for p in parts):
        return "".join(p["text"] for p in parts) if len(parts) <= 1 else parts
    return parts


def ai_text_and_reasoning(message: AIMessage) -> tuple[str, str | None]:
    """The text of an assistant message and its reasoning (``reasoning_content``)."""
    reasoning = message.additional_kwargs.get("reasoning_content")
    content = message.content
    if isinstance(content, str):
        return content, reasoning if isinstance(reasoning, str) else None
    texts: list[str] = []
    thoughts: list[str] = []
    for block in content:
        if isinstance(block, str):
            texts.append(block)
        elif isinstance(block, dict):
            if block.get("type") == "text":
                texts.append(str(block.get("text", "")))
            elif block.get("type") == "reasoning" and isinstance(block.get("reasoning"), str):
                thoughts.append(block["reasoning"])
    if not isinstance(reasoning, str):
        reasoning = "".join(thoughts) or None
    return "".join(texts), reasoning


def _tool_text(content: str | list[Any]) -> str:
    if isinstance(content, str):
        return content
    texts = []
    for block in content:
        if isinstance(block, str):
            texts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        else:
            texts.append(json.dumps(block, ensure_ascii=False, default=str))
    return "".join(texts)


def _arguments_json(args: Any) -> str:
    try:
        return json.dumps(args, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"tool call arguments cannot be sent as JSON ({exc}); use str, numbers, bools, "
            "None, lists and dicts"
        ) from exc


def _ai_message(message: AIMessage, send_reasoning: bool) -> dict[str, Any]:
    text, reasoning = ai_text_and_reasoning(message)
    out: dict[str, Any] = {"role": "assistant", "content": text}
    calls = [
        {
            "id": tc.get("id") or "",
            "type": "function",
            "function": {
                "name": tc["name"],
                "arguments": _arguments_json(tc["args"]),
            },
        }
        for tc in message.tool_calls
    ]
    calls += [
        {
            "id": tc.get("id") or "",
            "type": "function",
            "function": {"name": tc.get("name") or "", "arguments": tc.get("args") or ""},
        }
        for tc in message.invalid_tool_calls
    ]
    if not calls and (raw := message.additional_kwargs.get("tool_calls")):
        calls = [{k: v for k, v in c.items() if k in ("id", "type", "function")} for c in raw]
    if calls:
        out["tool_calls"] = calls
        out["content"] = text or None
        if send_reasoning and reasoning:
            out["reasoning_content"] = reasoning
    return out


def message_to_dict(message: BaseMessage, *, send_reasoning: bool = False) -> dict[str, Any]:
    """One LangChain message as a chat-completions message dict.

    ``send_reasoning``: put an assistant message's ``reasoning_content`` back on the wire
    when it carries tool calls (DeepSeek thinking models require it inside a tool loop).
    """
    out: dict[str, Any]
    if isinstance(message, HumanMessage):
        out = {"role": "user", "content": _parts(message.content)}
    elif isinstance(message, AIMessage):
        out = _ai_message(message, send_reasoning)
    elif isinstance(message, SystemMessage):
        role = message.additional_kwargs.get("__openai_role__", "system")
        out = {"role": role, "content": _parts(message.content)}
    elif isinstance(message, ToolMessage):
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "content": _tool_text(message.content),
        }
    elif isinstance(message, FunctionMessage):
        return {"role": "function", "name": message.name, "content": _tool_text(message.content)}
    elif isinstance(message, ChatMessage):
        out = {"role": message.role, "content": _parts(message.content)}
    else:
        raise InvalidInputError(
            f"cannot send a {type(message).__name__} to the relay; use Human, AI, System, "
            "Tool or Chat messages"
        )
    if message.name:
        out["name"] = message.name
    return out


def messages_to_dicts(
    messages: Sequence[BaseMessage], *, send_reasoning: bool = False
) -> list[dict[str, Any]]:
    return [message_to_dict(m, send_reasoning=send_reasoning) for m in messages]


def tool_choice_param(
    tool_choice: str | bool | Mapping[str, Any], tool_names: Sequence[str]
) -> str | dict[str, Any]:
    """LangChain's ``tool_choice`` vocabulary -> the chat-completions one.

    ``"any"`` and ``True`` -> ``"required"``; a bound tool's name -> the function dict;
    ``"auto"``, ``"none"``, ``"required"`` and dicts pass through.
    """
    if tool_choice is True or tool_choice == "any":
        return "required"
    if isinstance(tool_choice, Mapping):
        return dict(tool_choice)
    if isinstance(tool_choice, str):
        if tool_choice in _CHOICE_KEYWORDS:
            return tool_choice
        if tool_choice in tool_names:
            return {"type": "function", "function": {"name": tool_choice}}
        raise InvalidInputError(
            f"tool_choice {tool_choice!r} is neither a bound tool ({', '.join(tool_names)}) "
            "nor one of 'auto', 'none', 'required', 'any'"
        )
    raise InvalidInputError(
        f"tool_choice must be a str, bool or dict, got {type(tool_choice).__name__}"
    )
