"""Deterministic chat-completions answers: request body -> plan -> completion / stream chunks.

Decision order for each choice (all ``n`` choices are identical):

1. ``tools`` present, ``tool_choice != "none"`` and the last message is from the user ->
   tool call(s): the forced tool, else every tool named in the last user text (only the
   first of them when ``parallel_tool_calls`` is false), else the first tool. Arguments come
   from :func:`._synth.synthesize` applied to the tool's ``parameters``.
2. ``response_format`` ``json_schema`` -> ``json.dumps`` of a synthesised instance;
   ``json_object`` -> an object with the keys the prompt quotes (``'setup'``, ``"x"``) as
   string fields, or ``{"answer": "<last user text>"}`` when it quotes none.
3. Last message(s) from a tool -> ``"The tool returned: <content>."``.
4. A ReAct-style prompt (``Thought:`` / ``Action:`` / ``Action Input:`` instructions with a
   tool list, no ``tools`` field) -> a ReAct-format action, then the final answer once an
   ``Observation:`` is in the conversation (see :mod:`._react`).
5. Otherwise ``"Hello! You said: <last user text>"``.

``stop`` cuts the text before the first stop sequence; ``max_completion_tokens`` /
``max_tokens`` is a word budget spent on reasoning first, then content (``finish_reason``
``"length"`` when anything was cut). Models whose id contains ``"reasoner"`` also produce
``reasoning_content`` = ``"Thinking about: <last user text>"``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._react import react_answer
from ._synth import synthesize
from ._tokens import completion_tokens, count_prompt_tokens, count_tokens, message_text, split_words

__all__ = [
    "CREATED",
    "SYSTEM_FINGERPRINT",
    "ChatPlan",
    "ChoicePlan",
    "completion_response",
    "plan_chat",
    "stream_chunks",
]

CREATED = 1767225600  # fixed timestamp (2026-01-01T00:00:00Z) keeps replies deterministic
SYSTEM_FINGERPRINT = "fp_emulator"
ARGUMENT_FRAGMENT = 6  # characters per streamed tool-argument fragment


@dataclass
class ChoicePlan:
    """What one choice says."""

    content: str | None
    finish_reason: str
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ChatPlan:
    """A whole answer: ids, choices and usage."""

    completion_id: str
    model: str
    choices: list[ChoicePlan]
    usage: dict[str, Any]


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message.get("content"))
    return ""


def _trailing_tool_results(messages: list[Any]) -> list[str]:
    results: list[str] = []
    for message in reversed(messages):
        if not (isinstance(message, dict) and message.get("role") == "tool"):
            break
        results.insert(0, message_text(message.get("content")))
    return results


def _names_tool(text: str, name: str) -> bool:
    pattern = r"(?<![A-Za-z0-9_])" + re.escape(name) + r"(?![A-Za-z0-9_])"
    return re.search(pattern, text, re.IGNORECASE) is not None


def _select_tools(body: dict[str, Any], prompt: str, min_calls: int) -> list[dict[str, Any]]:
    tools = [
        t["function"]
        for t in body.get("tools") or []
        if isinstance(t, dict)
        and t.get("type", "function") == "function"
        and isinstance(t.get("function"), dict)
        and isinstance(t["function"].get("name"), str)
    ]
    if not tools:
        return []
    choice = body.get("tool_choice")
    forced = None
    if isinstance(choice, dict):  # {"type": "function", "function": {"name": ...}} or flat
        function = choice.get("function")
        forced = function.get("name") if isinstance(function, dict) else choice.get("name")
    if forced:
        chosen = [next((t for t in tools if t["name"] == forced), {"name": forced})]
    else:
        chosen = [t for t in tools if _names_tool(prompt, t["name"])]
        if body.get("parallel_tool_calls") is False:
            chosen = chosen[:1]
        chosen = chosen or tools[:1]
    extra = [t for t in tools if t not in chosen]
    while len(chosen) < min_calls:
        chosen.append(extra.pop(0) if extra else chosen[-1])
    return chosen


def _apply_limits(
    body: dict[str, Any], reasoning: str | None, text: str
) -> tuple[str | None, str, str]:
    """Apply ``stop`` then the token budget; return (reasoning, content, finish_reason)."""
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else [s for s in stop or [] if isinstance(s, str)]
    cuts = [text.find(s) for s in stops if s and s in text]
    if cuts:
        text = text[: min(cuts)]
    budget = body.get("max_completion_tokens", body.get("max_tokens"))
    if not isinstance(budget, int) or isinstance(budget, bool):
        return reasoning, text, "stop"
    finish = "stop"
    if reasoning is not None:
        pieces = split_words(reasoning)
        if len(pieces) > budget:
            reasoning, finish = "".join(pieces[:budget]), "length"
        budget = max(0, budget - len(pieces))
    pieces = split_words(text)
    if len(pieces) > budget:
        text, finish = "".join(pieces[:budget]), "length"
    return reasoning, text, finish


_QUOTED_KEY = re.compile(r"(?<!\w)(['\"`])([A-Za-z_]\w*)\1(?!\w)")


def _json_object_answer(context: str) -> str:
    """``{"answer": context}``, or an object with the keys the prompt quotes ('setup')."""
    keys = list(dict.fromkeys(m.group(2) for m in _QUOTED_KEY.finditer(context)))
    if not keys:
        return json.dumps({"answer": context})
    schema = {"type": "object", "properties": {key: {"type": "string"} for key in keys}}
    return json.dumps(synthesize(schema, _QUOTED_KEY.sub(" ", context)))


def _answer_text(body: dict[str, Any], messages: list[Any], prompt: str) -> str:
    fmt = body.get("response_format")
    fmt_type = fmt.get("type") if isinstance(fmt, dict) else None
    tool_results = _trailing_tool_results(messages)
    context = " ".join([prompt, *tool_results]).strip()
    if fmt_type == "json_schema":
        spec = fmt.get("json_schema") if isinstance(fmt, dict) else None
        schema = spec.get("schema") if isinstance(spec, dict) else None
        value = synthesize(schema if isinstance(schema, dict) else {"type": "object"}, context)
        return json.dumps(value)
    if fmt_type == "json_object":
        return _json_object_answer(context)
    if tool_results:
        return f"The tool returned: {'; '.join(tool_results)}."
    react = react_answer(messages)
    if react is not None:
        return react
    return f"Hello! You said: {prompt}" if prompt else "Hello!"


def plan_chat(
    body: dict[str, Any],
    completion_id: str,
    next_call_id: Callable[[], str],
    *,
    min_tool_calls: int = 0,
) -> ChatPlan:
    """Work out the deterministic answer to a chat-completions request ``body``."""
    messages = body.get("messages") if isinstance(body.get("messages"), list) else []
    assert isinstance(messages, list)
    model = str(body.get("model", ""))
    prompt = _last_user_text(messages)
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    reasoning = f"Thinking about: {prompt}" if "reasoner" in model else None
    n = body.get("n")
    n = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
    use_tools = body.get("tool_choice") != "none" and last.get("role") == "user"
    selected = _select_tools(body, prompt, min_tool_calls) if use_tools else []
    arguments_prompt = prompt
    for tool in selected:  # tool names are not argument values
        arguments_prompt = re.sub(re.escape(tool["name"]), " ", arguments_prompt, flags=re.I)
    choices: list[ChoicePlan] = []
    for _ in range(n):
        if selected:
            calls = [
                {
                    "id": next_call_id(),
                    "type": "function",
                    "function": {
                        "name": tool["name"],
                        "arguments": json.dumps(
                            synthesize(
                                tool.get("parameters") or {"type": "object"}, arguments_prompt
                            ),
                            separators=(",", ":"),
                        ),
                    },
                }
                for tool in selected
            ]
            choices.append(ChoicePlan(None, "tool_calls", reasoning, calls))
            continue
        text = _answer_text(body, messages, prompt)
        thought, content, finish = _apply_limits(body, reasoning, text)
        choices.append(ChoicePlan(content, finish, thought))
    prompt_tokens = count_prompt_tokens(body)
    completion = sum(completion_tokens(c.content, c.reasoning, c.tool_calls) for c in choices)
    cached = body.get("emulator_cached_tokens", 0)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
        "prompt_tokens_details": {
            "cached_tokens": int(cached) if isinstance(cached, (int, float)) else 0,
            "cache_write_tokens": 0,
            "audio_tokens": 0,
        },
        "completion_tokens_details": {
            "reasoning_tokens": sum(count_tokens(c.reasoning) for c in choices),
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    return ChatPlan(completion_id, model, choices, usage)


def completion_response(plan: ChatPlan) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` object for ``plan``."""
    choices = []
    for index, choice in enumerate(plan.choices):
        message: dict[str, Any] = {
            "role": "assistant",
            "content": choice.content,
            "refusal": None,
            "annotations": [],
        }
        if choice.reasoning is not None:
            message["reasoning_content"] = choice.reasoning
        if choice.tool_calls:
            message["tool_calls"] = choice.tool_calls
        choices.append(
            {
                "index": index,
                "message": message,
                "logprobs": None,
                "finish_reason": choice.finish_reason,
            }
        )
    return {
        "id": plan.completion_id,
        "object": "chat.completion",
        "created": CREATED,
        "model": plan.model,
        "choices": choices,
        "usage": plan.usage,
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


def _tool_deltas(calls: list[dict[str, Any]], variant: str | None) -> list[dict[str, Any]]:
    deltas: list[dict[str, Any]] = []
    for position, call in enumerate(calls):
        index = 0 if variant == "tool_index_shared" else position
        name, arguments = call["function"]["name"], call["function"]["arguments"]
        head = {"index": index, "id": call["id"], "type": "function"}
        deltas.append({**head, "function": {"name": name, "arguments": ""}})
        for start in range(0, len(arguments), ARGUMENT_FRAGMENT):
            fragment = arguments[start : start + ARGUMENT_FRAGMENT]
            if variant == "tool_repeat_id_name":
                deltas.append({**head, "function": {"name": name, "arguments": fragment}})
            else:
                deltas.append({"index": index, "function": {"arguments": fragment}})
    if variant == "tool_index_missing":
        for delta in deltas:
            del delta["index"]
    return deltas


def stream_chunks(
    plan: ChatPlan, *, include_usage: bool, variant: str | None = None
) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects streaming ``plan`` (without the ``[DONE]``).

    ``variant`` reshapes the chunks the way some relays do: ``"repeated_usage"``,
    ``"tool_index_shared"``, ``"tool_index_missing"`` or ``"tool_repeat_id_name"``.
    """
    base = {
        "id": plan.completion_id,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": plan.model,
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }
    chunks: list[dict[str, Any]] = []

    def add(index: int, delta: dict[str, Any], finish: str | None = None) -> None:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        chunk: dict[str, Any] = {**base, "choices": [choice]}
        if include_usage:
            chunk["usage"] = None
        chunks.append(chunk)

    for index, choice in enumerate(plan.choices):
        tool_deltas = _tool_deltas(choice.tool_calls, variant)
        if tool_deltas and not choice.reasoning:
            # like current OpenAI models: the role rides on the first tool-call delta
            first = tool_deltas.pop(0)
            add(
                index,
                {"role": "assistant", "content": None, "tool_calls": [first], "refusal": None},
            )
        elif tool_deltas:
            add(index, {"role": "assistant", "content": None, "refusal": None})
        else:
            add(index, {"role": "assistant", "content": "", "refusal": None})
        for piece in split_words(choice.reasoning or ""):
            add(index, {"reasoning_content": piece})
        for piece in split_words(choice.content or ""):
            add(index, {"content": piece})
        for delta in tool_deltas:
            add(index, {"tool_calls": [delta]})
        add(index, {}, choice.finish_reason)
    if include_usage:
        chunks.append({**base, "choices": [], "usage": plan.usage})
    if variant == "repeated_usage":
        _running_usage(chunks, plan.usage)
    return chunks


def _running_usage(chunks: list[dict[str, Any]], usage: dict[str, Any]) -> None:
    """Put a running-total ``usage`` on every chunk; the last one carries the true totals."""
    prompt, total = usage["prompt_tokens"], usage["completion_tokens"]
    for position, chunk in enumerate(chunks):
        if position == len(chunks) - 1:
            chunk["usage"] = usage
            continue
        done = min(total, position)
        chunk["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": done,
            "total_tokens": prompt + done,
        }
