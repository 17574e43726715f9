"""Multi-turn agent loops (LangGraph ``add_messages``) against a relay that repeats its ids.

Some relays answer every completion with the same ``id``. LangGraph's ``add_messages``
reducer merges messages by ``id``, so if ``AIMessage.id`` were the relay's id the final
answer of a tool loop would replace the tool-calling message, leaving a ``ToolMessage``
with no call before it: a transcript OpenAI rejects on the next turn. ``ChatHolySheep``
leaves the message id to langchain-core (one ``lc_run-...`` id per generation, shared by
the chunks of a stream) and keeps the relay's id in ``response_metadata["id"]``.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration
from langchain_core.tools import tool
from langchain_core.utils.utils import LC_ID_PREFIX
from langgraph import prebuilt
from langgraph.checkpoint.memory import InMemorySaver

from holysheep_relay import ChatCompletion, StreamResult
from holysheep_relay.testing import Emulator
from holysheep_relay.wire import chunk_from_dict
from langchain_holysheep import ChatHolySheep
from langchain_holysheep._responses import StreamConverter, chat_result
from tests.langchain.helpers import call, chunks_of
from tests.transcript_checks import assert_wire_transcript_well_formed

RELAY_ID = "chatcmpl-always-the-same"
TURNS = ("What is the weather in Paris?", "And what about Oslo?")
CITIES = ("Paris", "Oslo")
GRAPH_MODES = ("invoke", "ainvoke", "stream", "astream")


@tool
def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"Sunny in {city}"


@pytest.fixture
def repeating(emulator: Emulator) -> Emulator:
    """The emulator as a relay that gives every completion the same id (undone by reset)."""
    emulator.fixed_completion_id = RELAY_ID
    return emulator


def _chat_bodies(emulator: Emulator) -> list[dict[str, Any]]:
    bodies = [r.json for r in emulator.requests if r.path == "/chat/completions"]
    assert all(isinstance(b, dict) for b in bodies)
    return [b for b in bodies if b is not None]


def assert_state_well_formed(messages: Sequence[BaseMessage]) -> None:
    """Distinct ids; every ToolMessage follows the AIMessage that made its call."""
    ids = [m.id for m in messages]
    assert None not in ids, ids
    assert len(set(ids)) == len(ids), ids
    for position, message in enumerate(messages):
        if not isinstance(message, ToolMessage):
            continue
        back = position - 1
        while back >= 0 and isinstance(messages[back], ToolMessage):
            back -= 1
        owner = messages[back] if back >= 0 else None
        assert isinstance(owner, AIMessage), (position, messages)
        assert message.tool_call_id in [c["id"] for c in owner.tool_calls], (position, messages)


def _run_turn(agent: Any, mode: str, text: str, config: dict[str, Any]) -> tuple[Any, list[Any]]:
    """One user turn through the graph: (final state, streamed AI message chunks)."""
    value = {"messages": [HumanMessage(text)]}
    if mode == "invoke":
        return agent.invoke(value, config), []
    if mode == "ainvoke":
        return asyncio.run(agent.ainvoke(value, config)), []
    stream_modes = ["messages", "values"]
    if mode == "stream":
        parts = list(agent.stream(value, config, stream_mode=stream_modes))
    elif mode == "astream":

        async def go() -> list[Any]:
            return [p async for p in agent.astream(value, config, stream_mode=stream_modes)]

        parts = asyncio.run(go())
    else:
        raise ValueError(mode)
    states = [data for kind, data in parts if kind == "values"]
    chunks = [
        data[0]
        for kind, data in parts
        if kind == "messages" and isinstance(data[0], AIMessageChunk)
    ]
    assert states
    return states[-1], chunks


def _check_two_turn_loop(
    emulator: Emulator, agent: Any, mode: str, *, model_streams: bool
) -> list[BaseMessage]:
    config = {"configurable": {"thread_id": f"thread-{mode}"}}
    streamed: list[list[Any]] = []
    state: Any = None
    for text in TURNS:
        state, chunks = _run_turn(agent, mode, text, config)
        streamed.append(chunks)

    bodies = _chat_bodies(emulator)
    assert len(bodies) == 4  # per turn: the tool call, then the answer
    assert all(b.get("stream", False) is model_streams for b in bodies)
    for body in bodies:
        assert_wire_transcript_well_formed(body["messages"])
    # turn 2's first request sends the whole of turn 1 back
    turn2 = bodies[2]["messages"]
    assert [m["role"] for m in turn2] == ["user", "assistant", "tool", "assistant", "user"]
    assert turn2[1]["tool_calls"][0]["id"] == turn2[2]["tool_call_id"]
    assert turn2[3]["content"] == "The tool returned: Sunny in Paris."
    assert [m["role"] for m in bodies[3]["messages"]] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
        "tool",
    ]

    messages: list[BaseMessage] = state["messages"]
    assert [type(m).__name__ for m in messages] == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
    ] * 2
    assert_state_well_formed(messages)
    ai = [m for m in messages if isinstance(m, AIMessage)]
    assert [m.response_metadata["id"] for m in ai] == [RELAY_ID] * 4  # the relay's id is kept
    assert all(m.id and m.id.startswith(LC_ID_PREFIX) for m in ai)
    assert [m.content for m in ai[1::2]] == [f"The tool returned: Sunny in {c}." for c in CITIES]
    assert [m.tool_calls[0]["args"] for m in ai[0::2]] == [{"city": c} for c in CITIES]

    if model_streams and mode in ("stream", "astream"):
        # every chunk of one generation carries that generation's (final) message id
        chunk_ids = [c.id for turn in streamed for c in turn]
        assert None not in chunk_ids
        assert list(dict.fromkeys(chunk_ids)) == [m.id for m in ai]
    return messages


@pytest.mark.parametrize("mode", GRAPH_MODES)
def test_create_agent_two_turns_with_repeating_relay_id(
    repeating: Emulator, make_llm: Callable[..., ChatHolySheep], mode: str
) -> None:
    # graph.stream(stream_mode="messages") makes the model stream; invoke does not
    agent = create_agent(make_llm(), [get_weather], checkpointer=InMemorySaver())
    _check_two_turn_loop(repeating, agent, mode, model_streams=mode in ("stream", "astream"))


@pytest.mark.parametrize("mode", GRAPH_MODES)
def test_create_agent_two_turns_streaming_model(
    repeating: Emulator, make_llm: Callable[..., ChatHolySheep], mode: str
) -> None:
    # streaming=True: the model streams even under graph.invoke
    agent = create_agent(make_llm(streaming=True), [get_weather], checkpointer=InMemorySaver())
    _check_two_turn_loop(repeating, agent, mode, model_streams=True)


@pytest.mark.parametrize("mode", GRAPH_MODES)
def test_create_react_agent_two_turns_with_repeating_relay_id(
    repeating: Emulator, make_llm: Callable[..., ChatHolySheep], mode: str
) -> None:
    with warnings.catch_warnings():
        # LangGraphDeprecatedSinceV10: moved to langchain.agents.create_agent
        warnings.simplefilter("ignore", DeprecationWarning)
        agent = prebuilt.create_react_agent(make_llm(), [get_weather], checkpointer=InMemorySaver())
    _check_two_turn_loop(repeating, agent, mode, model_streams=mode in ("stream", "astream"))


# -- the id contract, model level ---------------------------------------------------------


def test_converters_leave_the_message_id_to_langchain_core() -> None:
    raw = {
        "id": RELAY_ID,
        "model": "gpt-4.1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "A"}}],
    }
    result = chat_result(ChatCompletion.model_validate(raw))
    message = result.generations[0].message
    assert message.id is None
    assert message.response_metadata["id"] == RELAY_ID
    assert result.llm_output is not None
    assert result.llm_output["id"] == RELAY_ID
    converter = StreamConverter()
    delta = {"index": 0, "delta": {"content": "A"}, "finish_reason": None}
    chunk = converter.convert(chunk_from_dict({"id": RELAY_ID, "model": "m", "choices": [delta]}))
    assert chunk is not None
    assert chunk.message.id is None
    last = converter.finish(StreamResult(id=RELAY_ID, model="m", finish_reason="stop"))
    assert last.message.id is None
    assert last.message.response_metadata["id"] == RELAY_ID


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream"])
def test_each_generation_gets_its_own_message_id(
    repeating: Emulator, make_llm: Callable[..., ChatHolySheep], mode: str
) -> None:
    llm = make_llm()
    first, second = (call(mode, llm, "Hello") for _ in range(2))
    assert first.response_metadata["id"] == second.response_metadata["id"] == RELAY_ID
    assert first.id
    assert second.id
    assert first.id != second.id
    assert first.id.startswith(LC_ID_PREFIX)
    assert second.id.startswith(LC_ID_PREFIX)


@pytest.mark.parametrize("streaming", ["stream", "astream"])
def test_stream_chunks_share_one_id_per_generation(
    repeating: Emulator, make_llm: Callable[..., ChatHolySheep], streaming: str
) -> None:
    llm = make_llm().bind_tools([get_weather])
    runs = [chunks_of(streaming, llm, "weather in Paris") for _ in range(2)]
    ids = []
    for chunks in runs:
        assert len(chunks) > 2
        assert len({c.id for c in chunks}) == 1
        merged = chunks[0]
        for c in chunks[1:]:
            merged = merged + c
        assert merged.id == chunks[0].id
        assert merged.response_metadata["id"] == RELAY_ID
        assert merged.tool_calls[0]["args"] == {"city": "Paris"}
        ids.append(merged.id)
    assert ids[0] != ids[1]


def test_invoke_with_streaming_flag_merges_under_one_id(
    repeating: Emulator, make_llm: Callable[..., ChatHolySheep]
) -> None:
    llm = make_llm(streaming=True)
    first, second = llm.invoke("Hello"), llm.invoke("Hello")
    assert repeating.requests[-1].json is not None
    assert repeating.requests[-1].json["stream"]
    assert first.id
    assert second.id
    assert first.id != second.id
    assert first.response_metadata["id"] == second.response_metadata["id"] == RELAY_ID


def test_batch_choices_get_distinct_ids(
    repeating: Emulator, make_llm: Callable[..., ChatHolySheep]
) -> None:
    result = make_llm(n=2).generate([[HumanMessage("Hello")]])
    ids = [g.message.id for g in result.generations[0] if isinstance(g, ChatGeneration)]
    assert len(ids) == 2
    assert None not in ids
    assert len(set(ids)) == 2
