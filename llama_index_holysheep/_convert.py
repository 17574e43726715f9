"""LlamaIndex messages and tools -> the relay's wire shapes (pure functions, no I/O).

Everything the relay cannot take is rejected here with :class:`InvalidInputError`, before
any request is sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    AudioBlock,
    CachePoint,
    ChatMessage,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from holysheep_relay import InvalidInputError
from holysheep_relay.provider import check_tools

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = [
    "resolve_tool_choice",
    "to_wire_message",
    "to_wire_messages",
    "to_wire_tools",
    "wire_tool_call",
]

_ROLE_MAP = {
    MessageRole.CHATBOT: "assistant",
    MessageRole.MODEL: "assistant",
}
# Roles whose content must be a plain string on the wire (OpenAI-compatible relays).
_STRING_ONLY = frozenset({"assistant", "tool", "system", "developer", "function"})
_TOOL_NAME = re.compile(r"[^a-zA-Z0-9_-]")


def _arguments_text(arguments: Any) -> str:
    if isinstance(arguments, str):
        return arguments
    try:
        return json.dumps(
            arguments if arguments is not None else {}, ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"tool call arguments cannot be sent as JSON ({exc}); use str, numbers, bools, "
            "None, lists and dicts"
        ) from exc


def wire_tool_call(call: Any) -> dict[str, Any]:
    """One tool call in wire shape, from a ToolCallBlock, a dict or an SDK/pydantic object."""
    if isinstance(call, ToolCallBlock):
        return {
            "id": call.tool_call_id or "",
            "type": "function",
            "function": {"name": call.tool_name, "arguments": _arguments_text(call.tool_kwargs)},
        }
    if not isinstance(call, Mapping):
        dump = getattr(call, "model_dump", None)
        if dump is None:
            raise InvalidInputError(f"cannot send tool call of type {type(call).__name__}")
        call = dump()
    function = call.get("function") or {}
    return {
        "id": call.get("id") or "",
        "type": call.get("type") or "function",
        "function": {
            "name": function.get("name") or "",
            "arguments": _arguments_text(function.get("arguments")),
        },
    }


def _image_part(block: ImageBlock) -> dict[str, Any]:
    if block.url:
        url = str(block.url)
    else:
        data = block.resolve_image(as_base64=True).read().decode("ascii")
        url = f"data:{block.image_mimetype or 'image/png'};base64,{data}"
    image: dict[str, Any] = {"url": url}
    if block.detail:
        image["detail"] = block.detail
    return {"type": "image_url", "image_url": image}


def _audio_part(block: AudioBlock) -> dict[str, Any]:
    data = block.resolve_audio(as_base64=True).read().decode("ascii")
    return {"type": "input_audio", "input_audio": {"data": data, "format": block.format}}


def _document_part(block: DocumentBlock) -> dict[str, Any]:
    data = block._get_b64_string(block.resolve_document())
    mimetype = block.document_mimetype or block._guess_mimetype() or "application/pdf"
    return {
        "type": "file",
        "file": {
            "filename": block.title or "document",
            "file_data": f"data:{mimetype};base64,{data}",
        },
    }


def _content_parts(
    message: ChatMessage, index: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
    """(content parts, tool calls, text only) of one message's blocks."""
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    text_only = True
    for block in message.blocks:
        if isinstance(block, TextBlock):
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ToolCallBlock):
            calls.append(wire_tool_call(block))
        elif isinstance(block, (ThinkingBlock, CachePoint)):
            continue  # not part of chat-completions input
        elif isinstance(block, ImageBlock):
            parts.append(_image_part(block))
            text_only = False
        elif isinstance(block, AudioBlock):
            parts.append(_audio_part(block))
            text_only = False
        elif isinstance(block, DocumentBlock):
            parts.append(_document_part(block))
            text_only = False
        else:
            raise InvalidInputError(
                f"messages[{index}] has a {type(block).__name__}, which the relay's "
                "chat-completions API cannot take"
            )
    return parts, calls, text_only


def to_wire_message(message: ChatMessage, index: int = 0) -> dict[str, Any]:
    """One LlamaIndex ChatMessage as an OpenAI-compatible message dict."""
    role = _ROLE_MAP.get(message.role, message.role.value)
    blocks = message.blocks
    extra = message.additional_kwargs
    if len(blocks) == 1 and type(blocks[0]) is TextBlock and not extra:  # the common case
        return {"role": role, "content": blocks[0].text}
    parts, calls, text_only = _content_parts(message, index)
    wire: dict[str, Any] = {"role": role}
    if text_only or role in _STRING_ONLY:
        if not text_only:
            raise InvalidInputError(
                f"messages[{index}] ({role}) carries images, audio or documents; the relay "
                "only accepts those in user messages"
            )
        text = "\n".join(p["text"] for p in parts)
        wire["content"] = text if text or role != "assistant" else None
    else:
        wire["content"] = parts
    if not calls and role == "assistant" and extra.get("tool_calls"):
        calls = [wire_tool_call(c) for c in extra["tool_calls"]]
    if calls:
        wire["tool_calls"] = calls
    elif wire.get("content") is None:
        wire["content"] = ""
    if extra.get("tool_call_id"):
        wire["tool_call_id"] = extra["tool_call_id"]
    if extra.get("name"):
        wire["name"] = extra["name"]
    return wire


def to_wire_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    return [to_wire_message(m, i) for i, m in enumerate(messages)]


def to_wire_tools(tools: Sequence[BaseTool], *, strict: bool) -> list[dict[str, Any]]:
    """OpenAI tool specs for LlamaIndex tools (``strict`` adds the strict-schema flags)."""
    specs = []
    for i, tool in enumerate(tools):
        if not tool.metadata.name:
            raise InvalidInputError(
                f"tools[{i}] ({type(tool).__name__}) has no name; the model calls tools by "
                "name: give it one, e.g. FunctionTool.from_defaults(fn, name='get_weather') "
                "or ToolMetadata(name='get_weather', description=...)"
            )
        spec = tool.metadata.to_openai_tool(skip_length_check=True)
        if strict:
            function = spec["function"]
            function["strict"] = True
            function["parameters"] = {**function["parameters"], "additionalProperties": False}
        specs.append(spec)
    check_tools(specs)  # e.g. a name longer than 64 characters
    return specs


def resolve_tool_choice(
    tool_choice: str | Mapping[str, Any] | None, tool_required: bool
) -> str | dict[str, Any]:
    """``tool_choice`` on the wire: "auto"/"required"/"none" or a forced function."""
    if tool_choice is None:
        return "required" if tool_required else "auto"
    if isinstance(tool_choice, Mapping):
        return dict(tool_choice)
    if tool_choice in ("auto", "required", "none"):
        return tool_choice
    return {"type": "function", "function": {"name": _TOOL_NAME.sub("_", tool_choice)}}
