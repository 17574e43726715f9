"""Tool calling through ChatHolySheep: binding, tool_choice, streamed deltas, agent loops."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field

from holysheep_relay.testing import Emulator
from langchain_holysheep import ChatHolySheep, InvalidInputError
from tests.langchain.helpers import call, chunks_of, last_body


@tool
def get_weather(city: str, days: int) -> str:
    """Weather forecast for a city."""
    return f"Sunny in {city} for {days} days"


@tool
def get_time(city: str) -> str:
    """Local time in a city."""
    return f"Noon in {city}"


@tool("world clock")
def world_clock(city: str) -> str:
    """Local time anywhere (a name with a space: no relay accepts it)."""
    return f"Noon in {city}"


class Lookup(BaseModel):
    """Look something up."""

    query: str = Field(description="what to look up")


def test_bind_tools_sends_openai_tool_definitions(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep]
) -> None:
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    llm = make_llm().bind_tools(
        [
            get_weather,
            Lookup,
            add,
            {"type": "function", "function": {"name": "raw", "parameters": {}}},
        ],
        strict=True,
        parallel_tool_calls=False,
    )
    llm.invoke("weather in Paris for 3 days")
    body = last_body(emulator)
    names = [t["function"]["name"] for t in body["tools"]]
    assert names == ["get_weather", "Lookup", "add", "raw"]
    assert body["tools"][0]["function"]["strict"] is True
    assert body["tools"][0]["function"]["parameters"]["required"] == ["city", "days"]
    assert body["parallel_tool_calls"] is False
    assert "tool_choice" not in body


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("any", "required"),
        (True, "required"),
        ("auto", "auto"),
        ("required", "required"),
        ("get_time", {"type": "function", "function": {"name": "get_time"}}),
        (
            {"type": "function", "function": {"name": "get_time"}},
            {"type": "function", "function": {"name": "get_time"}},
        ),
    ],
)
def test_tool_choice_on_the_wire(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep], choice: Any, wire: Any
) -> None:
    result = make_llm().bind_tools([get_weather, get_time], tool_choice=choice).invoke("Hello")
    assert last_body(emulator)["tool_choice"] == wire
    expected = "get_time" if isinstance(wire, dict) else "get_weather"
    assert [c["name"] for c in result.tool_calls] == [expected]


def test_tool_choice_none_means_no_call(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep]
) -> None:
    result = make_llm().bind_tools([get_weather], tool_choice="none").invoke("Hello")
    assert last_body(emulator)["tool_choice"] == "none"
    assert result.tool_calls == []
    assert result.content == "Hello! You said: Hello"


def test_tool_call_in_every_mode(make_llm: Callable[..., ChatHolySheep], mode: str) -> None:
    llm = make_llm().bind_tools([get_weather], tool_choice="get_weather")
    result = call(mode, llm, "weather in Paris for 3 days")
    assert isinstance(result, AIMessage)
    assert [(c["name"], c["args"]) for c in result.tool_calls] == [
        ("get_weather", {"city": "Paris", "days": 3})
    ]
    assert result.tool_calls[0]["id"].startswith("call_")
    assert result.response_metadata["finish_reason"] == "tool_calls"
    assert result.invalid_tool_calls == []


def test_streaming_yields_tool_call_chunks(
    make_llm: Callable[..., ChatHolySheep], stream_mode: str
) -> None:
    llm = make_llm().bind_tools([get_weather], tool_choice="any")
    chunks = chunks_of(stream_mode, llm, "weather in Paris for 3 days")
    pieces = [tc for c in chunks for tc in c.tool_call_chunks]
    assert len(pieces) > 2  # the arguments arrive in fragments
    assert [p["name"] for p in pieces if p["name"]] == ["get_weather"]
    assert [p["id"] for p in pieces if p["id"]] == [pieces[0]["id"]]
    assert "".join(p["args"] or "" for p in pieces) == '{"city":"Paris","days":3}'


@pytest.mark.parametrize(
    "fault", ["tool_repeat_id_name", "tool_index_missing", "tool_index_shared"]
)
def test_relay_tool_delta_quirks_fold_correctly(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep], stream_mode: str, fault: str
) -> None:
    emulator.add_fault(fault)
    llm = make_llm().bind_tools([get_weather, get_time])
    result = call(stream_mode, llm, "get_weather in Oslo for 2 days")
    expected = [("get_weather", {"city": "Oslo", "days": 2})]
    if fault == "tool_index_shared":  # the emulator sends two calls on index 0
        expected.append(("get_time", {"city": "Oslo"}))
    assert [(c["name"], c["args"]) for c in result.tool_calls] == expected
    assert len({c["id"] for c in result.tool_calls}) == len(expected)
    assert result.invalid_tool_calls == []


def _bad_args_completion() -> dict[str, Any]:
    return {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4.1",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_bad",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Par'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def _bad_args_sse() -> str:
    def frame(delta: dict[str, Any], finish: str | None = None) -> str:
        chunk = {
            "id": "chatcmpl-x",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "gpt-4.1",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(chunk)}\n\n"

    call_start = {
        "index": 0,
        "id": "call_bad",
        "function": {"name": "get_weather", "arguments": "[1,"},
    }
    return (
        frame({"role": "assistant", "tool_calls": [call_start]})
        + frame({"tool_calls": [{"index": 0, "function": {"arguments": " 2]"}}]})
        + frame({}, "tool_calls")
        + "data: [DONE]\n\n"
    )


def test_bad_argument_json_becomes_invalid_tool_calls(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep], mode: str
) -> None:
    if mode in ("invoke", "ainvoke"):
        emulator.add_fault("status", status=200, body=_bad_args_completion())
        bad_args = '{"city": "Par'
    else:
        emulator.add_fault(
            "status", status=200, body=_bad_args_sse(), content_type="text/event-stream"
        )
        bad_args = "[1, 2]"
    result = call(mode, make_llm().bind_tools([get_weather]), "weather")
    assert result.tool_calls == []
    assert [(c["name"], c["id"], c["args"]) for c in result.invalid_tool_calls] == [
        ("get_weather", "call_bad", bad_args)
    ]


def test_agent_loop(emulator: Emulator, make_llm: Callable[..., ChatHolySheep], mode: str) -> None:
    llm = make_llm().bind_tools([get_weather])
    history: list[Any] = [HumanMessage("What is the weather in Paris for 3 days?")]
    first = call(mode, llm, history)
    history.append(first)
    for tool_call in first.tool_calls:
        history.append(get_weather.invoke(tool_call))
    assert isinstance(history[-1], ToolMessage)
    final = call(mode, llm, history)
    assert final.content == "The tool returned: Sunny in Paris for 3 days."
    sent = last_body(emulator)["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[1]["tool_calls"][0]["id"] == sent[2]["tool_call_id"] == first.tool_calls[0]["id"]
    assert json.loads(sent[1]["tool_calls"][0]["function"]["arguments"]) == {
        "city": "Paris",
        "days": 3,
    }


@pytest.mark.parametrize(
    ("model", "setting", "sent"),
    [
        ("deepseek-reasoner", None, True),
        ("deepseek-reasoner", False, False),
        ("gpt-4.1", None, False),
        ("emulator-reasoner", True, True),
    ],
)
def test_reasoning_goes_back_in_deepseek_tool_loops(
    emulator: Emulator,
    make_llm: Callable[..., ChatHolySheep],
    mode: str,
    model: str,
    setting: bool | None,
    sent: bool,
) -> None:
    llm = make_llm(model=model, send_reasoning_content=setting).bind_tools([get_weather])
    history: list[Any] = [HumanMessage("weather in Rome for 1 day")]
    first = call(mode, llm, history)
    if "reasoner" in model:
        assert (
            first.additional_kwargs["reasoning_content"]
            == "Thinking about: weather in Rome for 1 day"
        )
    else:
        first.additional_kwargs["reasoning_content"] = "a relay-provided thought"
    history += [first, get_weather.invoke(first.tool_calls[0])]
    call(mode, llm, history)
    assistant = last_body(emulator)["messages"][1]
    assert ("reasoning_content" in assistant) is sent


@pytest.mark.parametrize(
    ("tools", "says"),
    [
        # a dict in OpenAI form with no name: used to be sent as it was (and tool_choice's
        # name lookup skipped or tripped over it)
        ([{"type": "function", "function": {"description": "x"}}], "tools[0] has no function"),
        ([get_time, world_clock], "tools[1] has function name"),
        (
            [{"type": "function", "function": {"name": "c", "parameters": {"type": "array"}}}],
            "type 'array'",
        ),
        ([{"type": "web_search"}], "only takes function tools"),
    ],
)
def test_bind_tools_refuses_an_invalid_tool_before_sending(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep], tools: list[Any], says: str
) -> None:
    llm = make_llm()
    with pytest.raises(InvalidInputError, match=re.escape(says)) as caught:
        llm.bind_tools(tools, tool_choice="any")
    assert caught.value.status_code is None
    per_call = [convert_to_openai_tool(t) for t in tools]
    with pytest.raises(InvalidInputError, match=re.escape(says)):  # and unbound, per call
        llm.invoke("what time is it?", tools=per_call)
    assert emulator.requests == []


def test_tools_langchain_builds_are_valid_and_pass(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep]
) -> None:
    class Nested(BaseModel):
        """A model with a nested one."""

        lookup: Lookup
        tags: list[str] = []

    @tool("get-stock_price2")
    def stock(symbol: str) -> str:
        """Price of a stock."""
        return symbol

    llm = make_llm().bind_tools([get_weather, Lookup, Nested, stock], tool_choice="Nested")
    llm.invoke("nested lookup please")
    body = last_body(emulator)
    assert [t["function"]["name"] for t in body["tools"]] == [
        "get_weather",
        "Lookup",
        "Nested",
        "get-stock_price2",
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "Nested"}}
