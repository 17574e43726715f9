"""End to end: agents reach a final answer through a tool, with HolySheep as the LLM."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.agent.workflow import (
    AgentStream,
    AgentWorkflow,
    FunctionAgent,
    ReActAgent,
    ToolCallResult,
)
from llama_index.core.tools import FunctionTool

from holysheep_relay.testing import Emulator
from llama_index_holysheep import HolySheep
from tests.llama_index.conftest import make_llm

CALLS: list[tuple[int, int]] = []


def multiply(a: int, b: int) -> int:
    """Multiply two integers and return the product."""
    CALLS.append((a, b))
    return a * b


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    CALLS.clear()


def _chat_bodies(emulator: Emulator) -> list[dict[str, Any]]:
    return [r.json for r in emulator.requests if r.path == "/chat/completions"]


async def _run(agent: Any, question: str) -> tuple[str, list[Any]]:
    handler = agent.run(user_msg=question)
    events = [event async for event in handler.stream_events()]
    return str(await handler), events


@pytest.mark.parametrize("streaming", [False, True])
async def test_function_agent(emulator: Emulator, llm: HolySheep, streaming: bool) -> None:
    agent = FunctionAgent(tools=[multiply], llm=llm, streaming=streaming)
    answer, events = await _run(agent, "What is 6 times 7?")
    assert CALLS == [(6, 7)]
    assert answer == "The tool returned: 42."
    [result] = [e for e in events if isinstance(e, ToolCallResult)]
    assert result.tool_name == "multiply"
    assert result.tool_kwargs == {"a": 6, "b": 7}
    first, second = _chat_bodies(emulator)
    assert first["tools"][0]["function"]["name"] == "multiply"
    assert first.get("stream", False) is streaming
    tool_message = second["messages"][-1]
    assert tool_message == {
        "role": "tool",
        "content": "42",
        "tool_call_id": second["messages"][-2]["tool_calls"][0]["id"],
    }
    deltas = [e.delta for e in events if isinstance(e, AgentStream)]
    if streaming:
        assert "".join(deltas) == answer
        raws = [e.raw for e in events if isinstance(e, AgentStream)]
        assert all(isinstance(r, dict) for r in raws)  # the relay's JSON chunks


async def test_agent_workflow_from_tools_picks_the_function_agent(
    emulator: Emulator, llm: HolySheep
) -> None:
    workflow = AgentWorkflow.from_tools_or_functions([multiply], llm=llm)
    assert isinstance(next(iter(workflow.agents.values())), FunctionAgent)
    answer, _ = await _run(workflow, "What is 6 times 7?")
    assert answer == "The tool returned: 42."
    assert CALLS == [(6, 7)]
    assert "tools" in _chat_bodies(emulator)[0]


async def test_agent_workflow_respects_the_function_calling_override(emulator: Emulator) -> None:
    llm = make_llm(emulator, is_function_calling_model=False)
    workflow = AgentWorkflow.from_tools_or_functions([multiply], llm=llm)
    assert isinstance(next(iter(workflow.agents.values())), ReActAgent)


@pytest.mark.parametrize("streaming", [False, True])
async def test_react_agent(emulator: Emulator, llm: HolySheep, streaming: bool) -> None:
    agent = ReActAgent(tools=[multiply], llm=llm, streaming=streaming)
    answer, events = await _run(agent, "What is 6 times 7?")
    assert CALLS == [(6, 7)]
    assert answer == "42"
    first, second = _chat_bodies(emulator)
    assert "tools" not in first  # text-only tool use
    assert second["messages"][-1] == {"role": "user", "content": "Observation: 42"}
    assert [e.tool_name for e in events if isinstance(e, ToolCallResult)] == ["multiply"]


def test_predict_and_call(emulator: Emulator, llm: HolySheep) -> None:
    tool = FunctionTool.from_defaults(multiply)
    response = llm.predict_and_call([tool], user_msg="What is 6 times 7?")
    assert response.response == "42"
    assert CALLS == [(6, 7)]
    [body] = _chat_bodies(emulator)
    assert body["tool_choice"] == "auto"
    assert body["parallel_tool_calls"] is False


async def test_apredict_and_call_with_parallel_calls(emulator: Emulator, llm: HolySheep) -> None:
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    tools = [FunctionTool.from_defaults(multiply), FunctionTool.from_defaults(add)]
    response = await llm.apredict_and_call(
        tools, user_msg="Use multiply and add on 6 and 7", allow_parallel_tool_calls=True
    )
    assert [s.tool_name for s in response.sources] == ["multiply", "add"]
    assert response.response == "42\n\n13"


def test_predict_and_call_keeps_one_call_unless_parallel(emulator: Emulator) -> None:
    emulator.add_fault("tool_index_shared")  # the relay answers with two calls anyway
    llm = make_llm(emulator)
    response = llm.predict_and_call([FunctionTool.from_defaults(multiply)], user_msg="6 x 7")
    assert len(response.sources) == 1
    assert CALLS == [(6, 7)]
