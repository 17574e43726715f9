"""Multi-turn agent loops against a relay that gives every completion the same ``id``.

LangGraph merges messages by id, which breaks tool loops when a chat model uses the relay's
(repeated) completion id as the message id. LlamaIndex agents keep their history in a
memory (``ChatMemoryBuffer`` / ``Memory``, in the workflow ``Context``) that stores
``ChatMessage`` objects, which have no id: ``HolySheep`` keeps the relay's id only in
``ChatResponse.raw``, and tool calls carry the relay's per-call ids. These tests pin that:
two turns through the same memory (and context) must send a well-formed transcript back.

The memory is passed to every run: with llama-index-workflows 2.x a reused ``Context``
alone starts the next run from a serialised snapshot, and the memory is a known
unserialisable key there, so the second run would start with an empty history.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_index.core.agent.workflow import AgentWorkflow, FunctionAgent, ToolCallResult
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.memory import ChatMemoryBuffer, Memory
from llama_index.core.workflow import Context
from sqlalchemy.ext.asyncio import create_async_engine

from holysheep_relay.testing import Emulator
from llama_index_holysheep import HolySheep
from tests.transcript_checks import assert_wire_transcript_well_formed

RELAY_ID = "chatcmpl-always-the-same"
TURNS = ("What is 6 times 7?", "And what is 3 times 4?")
PRODUCTS = ("42", "12")


def multiply(a: int, b: int) -> int:
    """Multiply two integers and return the product."""
    return a * b


@pytest.fixture
def repeating(emulator: Emulator) -> Emulator:
    """The emulator as a relay that gives every completion the same id (undone by reset)."""
    emulator.fixed_completion_id = RELAY_ID
    return emulator


def _chat_bodies(emulator: Emulator) -> list[dict[str, Any]]:
    bodies = [r.json for r in emulator.requests if r.path == "/chat/completions"]
    return [b for b in bodies if b is not None]


def _agent(kind: str, llm: HolySheep, streaming: bool) -> Any:
    if kind == "function_agent":
        return FunctionAgent(tools=[multiply], llm=llm, streaming=streaming)
    agent = FunctionAgent(name="calculator", tools=[multiply], llm=llm, streaming=streaming)
    return AgentWorkflow(agents=[agent], root_agent="calculator")


async def _turn(agent: Any, text: str, ctx: Context | None, memory: Any) -> tuple[str, Any]:
    handler = agent.run(user_msg=text, memory=memory, ctx=ctx)
    events = [event async for event in handler.stream_events()]
    return str(await handler), events


def _check_wire(emulator: Emulator, streaming: bool) -> None:
    bodies = _chat_bodies(emulator)
    assert len(bodies) == 4  # per turn: the tool call, then the answer
    assert all(b.get("stream", False) is streaming for b in bodies)
    for body in bodies:
        assert_wire_transcript_well_formed(body["messages"])
    # turn 2's first request sends the whole of turn 1 back
    turn2 = [m for m in bodies[2]["messages"] if m["role"] != "system"]
    assert [m["role"] for m in turn2] == ["user", "assistant", "tool", "assistant", "user"]
    call = turn2[1]["tool_calls"][0]
    assert call["id"] == turn2[2]["tool_call_id"]
    assert json.loads(call["function"]["arguments"]) == {"a": 6, "b": 7}
    assert turn2[2]["content"] == "42"
    assert turn2[3]["content"] == "The tool returned: 42."
    last = [m for m in bodies[3]["messages"] if m["role"] != "system"]
    assert [m["role"] for m in last] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
        "tool",
    ]
    call_ids = [m["tool_call_id"] for m in last if m["role"] == "tool"]
    assert len(set(call_ids)) == 2


def _check_memory(messages: list[ChatMessage]) -> None:
    assert [m.role.value for m in messages] == ["user", "assistant", "tool", "assistant"] * 2
    for message in messages:  # the relay's completion id is nowhere in the history
        assert RELAY_ID not in json.dumps(message.model_dump(), default=str)


@pytest.mark.parametrize("same_context", [False, True])
@pytest.mark.parametrize("streaming", [False, True])
@pytest.mark.parametrize("kind", ["function_agent", "agent_workflow"])
async def test_two_turns_with_repeating_relay_id(
    repeating: Emulator, llm: HolySheep, kind: str, streaming: bool, same_context: bool
) -> None:
    agent = _agent(kind, llm, streaming)
    ctx = Context(agent) if same_context else None
    memory = ChatMemoryBuffer.from_defaults(llm=llm)
    answers = []
    for text in TURNS:
        answer, events = await _turn(agent, text, ctx, memory)
        answers.append(answer)
        [result] = [e for e in events if isinstance(e, ToolCallResult)]
        assert result.tool_name == "multiply"
    assert answers == [f"The tool returned: {p}." for p in PRODUCTS]
    _check_wire(repeating, streaming)
    _check_memory(await memory.aget())


@pytest.mark.parametrize("streaming", [False, True])
async def test_two_turns_with_memory_session(
    repeating: Emulator, llm: HolySheep, streaming: bool
) -> None:
    """The newer ``Memory`` (SQL-backed, one session) across two runs."""
    agent = FunctionAgent(tools=[multiply], llm=llm, streaming=streaming)
    # our own engine, disposed at the end: Memory's default one leaves an aiosqlite
    # connection for the garbage collector (a ResourceWarning in whichever test runs gc)
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    try:
        memory = Memory.from_defaults(
            session_id="two-turns", token_limit=40000, async_engine=engine
        )
        for text in TURNS:
            handler = agent.run(user_msg=text, memory=memory)
            async for _ in handler.stream_events():
                pass
            await handler
        _check_wire(repeating, streaming)
        _check_memory(await memory.aget())
    finally:
        await engine.dispose()


def test_the_transcript_check_rejects_an_orphaned_tool_message() -> None:
    """What an id-merging history leaves behind: the answer replaced the tool call."""
    broken: list[dict[str, Any]] = [
        {"role": "user", "content": TURNS[0]},
        {"role": "assistant", "content": "The tool returned: 42."},
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
        {"role": "user", "content": TURNS[1]},
    ]
    with pytest.raises(AssertionError, match="calls \\[\\]"):
        assert_wire_transcript_well_formed(broken)
    wrong_id: list[dict[str, Any]] = [
        broken[0],
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_2"}]},
        broken[2],
    ]
    with pytest.raises(AssertionError, match="answers 'call_1'"):
        assert_wire_transcript_well_formed(wrong_id)
    with pytest.raises(AssertionError, match="opens the transcript"):
        assert_wire_transcript_well_formed(broken[2:])
