"""Stream folding: tool calls by index, repeated ids/names, missing index, usage, reasoning."""

from __future__ import annotations

from typing import Any

from holysheep_relay.accumulate import StreamAccumulator
from holysheep_relay.wire import chunk_from_dict


def fold(*deltas: dict[str, Any], usages: list[dict[str, Any] | None] | None = None):  # type: ignore[no-untyped-def]
    acc = StreamAccumulator()
    for i, delta in enumerate(deltas):
        chunk: dict[str, Any] = {"id": "c", "model": "m", "choices": [{"index": 0, "delta": delta}]}
        if usages is not None and usages[i] is not None:
            chunk["usage"] = usages[i]
        acc.add(chunk_from_dict(chunk))
    return acc.result()


def tc(
    index: int | None = None,
    id: str | None = None,
    name: str | None = None,
    args: str | None = None,
) -> dict[str, Any]:
    call: dict[str, Any] = {"function": {}}
    if index is not None:
        call["index"] = index
    if id is not None:
        call["id"] = id
        call["type"] = "function"
    if name is not None:
        call["function"]["name"] = name
    if args is not None:
        call["function"]["arguments"] = args
    return {"tool_calls": [call]}


def test_content_and_reasoning_are_kept_apart() -> None:
    res = fold(
        {"role": "assistant", "reasoning_content": "think "},
        {"reasoning": "more"},
        {"content": "Hel"},
        {"content": "lo"},
    )
    assert res.content == "Hello"
    assert res.reasoning_content == "think more"


def test_parallel_tool_calls_assembled_by_index() -> None:
    res = fold(
        tc(0, "call_a", "add", ""),
        tc(1, "call_b", "mul", ""),
        tc(0, args='{"a":'),
        tc(1, args='{"x": 2}'),
        tc(0, args=" 1}"),
    )
    assert [(t.id, t.function.name, t.function.arguments) for t in res.tool_calls] == [
        ("call_a", "add", '{"a": 1}'),
        ("call_b", "mul", '{"x": 2}'),
    ]


def test_repeated_id_and_name_are_not_concatenated() -> None:
    res = fold(
        tc(0, "call_a", "add", '{"a"'), tc(0, "call_a", "add", ": 1"), tc(0, "call_a", "add", "}")
    )
    assert len(res.tool_calls) == 1
    call = res.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == ("call_a", "add", '{"a": 1}')


def test_shared_index_with_new_id_starts_a_new_call() -> None:
    res = fold(
        tc(0, "call_a", "add", '{"a": 1}'), tc(0, "call_b", "mul", '{"b"'), tc(0, args=": 2}")
    )
    assert [(t.id, t.function.name, t.function.arguments) for t in res.tool_calls] == [
        ("call_a", "add", '{"a": 1}'),
        ("call_b", "mul", '{"b": 2}'),
    ]


def test_missing_index_continues_latest_call_until_a_new_id() -> None:
    res = fold(
        tc(None, "call_a", "add", '{"a"'), tc(None, args=": 1}"), tc(None, "call_b", "mul", "{}")
    )
    assert [(t.id, t.function.name, t.function.arguments) for t in res.tool_calls] == [
        ("call_a", "add", '{"a": 1}'),
        ("call_b", "mul", "{}"),
    ]


def test_running_usage_totals_are_counted_once() -> None:
    usages: list[dict[str, Any] | None] = [
        {"prompt_tokens": 10, "completion_tokens": k, "total_tokens": 10 + k} for k in (1, 2, 3)
    ]
    res = fold({"content": "a"}, {"content": "b"}, {"content": "c"}, usages=usages)
    assert res.usage is not None
    assert (res.usage.prompt_tokens, res.usage.completion_tokens, res.usage.total_tokens) == (
        10,
        3,
        13,
    )


def test_usage_details_cached_and_reasoning() -> None:
    res = fold(
        {"content": "a"},
        usages=[
            {
                "prompt_tokens": 10,
                "completion_tokens": 5,
                "total_tokens": 15,
                "prompt_tokens_details": {"cached_tokens": 4},
                "completion_tokens_details": {"reasoning_tokens": 2},
            }
        ],
    )
    assert res.usage is not None
    assert (res.usage.cached_tokens, res.usage.reasoning_tokens) == (4, 2)
    assert res.usage.to_wire()["prompt_tokens_details"] == {"cached_tokens": 4}


def test_finish_reason_and_message_dict() -> None:
    acc = StreamAccumulator()
    acc.add(
        chunk_from_dict(
            {
                "id": "x",
                "model": "m",
                "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}],
            }
        )
    )
    res = acc.result()
    assert res.finish_reason == "stop"
    assert res.to_message_dict() == {"role": "assistant", "content": "hi"}
