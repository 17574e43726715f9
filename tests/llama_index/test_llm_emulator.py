"""HolySheep against the local relay emulator: chat, streams, usage, reasoning, tool calls.

Every scenario runs through chat and stream_chat, sync and async (``MODES``).
"""

from __future__ import annotations

import re

import pytest
from llama_index.core.base.llms.types import TextBlock, ThinkingBlock, ToolCallBlock
from llama_index.core.tools import FunctionTool, ToolMetadata

from holysheep_relay import InvalidInputError
from holysheep_relay.testing import Emulator, completion_tokens, count_prompt_tokens
from tests.llama_index.conftest import MODES, USER, make_llm, run, user


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


ADD = FunctionTool.from_defaults(add)


def _last_chat_body(emulator: Emulator) -> dict:
    return [r for r in emulator.requests if r.path == "/chat/completions"][-1].json


@pytest.mark.parametrize("mode", MODES)
async def test_answer_usage_cost_and_request_id(emulator: Emulator, mode: str) -> None:
    llm = make_llm(emulator)
    final = (await run(llm, mode, user())).final
    assert final.message.content == f"Hello! You said: {USER}"
    body = _last_chat_body(emulator)
    prompt = count_prompt_tokens(body)
    completion = completion_tokens(final.message.content, None, [])
    # raw is the relay's own JSON (for streams: the chunk that carried usage)
    assert final.raw["usage"]["prompt_tokens"] == prompt
    assert final.raw["usage"]["completion_tokens"] == completion
    kw = final.additional_kwargs
    assert (kw["prompt_tokens"], kw["completion_tokens"], kw["total_tokens"]) == (
        prompt,
        completion,
        prompt + completion,
    )
    assert kw["request_id"] == f"req_{len(emulator.requests)}"
    assert kw["cost_usd"] == pytest.approx((prompt * 2.0 + completion * 8.0) / 1e6)  # gpt-4.1
    assert body["model"] == "gpt-4.1"
    if mode.startswith("stream"):
        assert body["stream_options"] == {"include_usage": True}
    else:
        assert "stream" not in body
        assert "stream_options" not in body


@pytest.mark.parametrize("mode", ["stream-sync", "stream-async"])
async def test_every_streamed_response_carries_the_whole_message_so_far(
    emulator: Emulator, mode: str
) -> None:
    responses = (await run(make_llm(emulator), mode, user("one two three four"))).responses
    assert len(responses) >= 5  # one per word, then the final one with usage
    so_far = ""
    for response in responses:
        so_far += response.delta or ""
        assert response.message.content == so_far
        assert response.message.role == "assistant"
    assert so_far == "Hello! You said: one two three four"
    assert all("prompt_tokens" not in r.additional_kwargs for r in responses[:-1])
    assert responses[-1].delta == ""
    assert responses[-1].additional_kwargs["finish_reason"] == "stop"


@pytest.mark.parametrize("mode", ["stream-sync", "stream-async"])
async def test_include_usage_can_be_turned_off(emulator: Emulator, mode: str) -> None:
    llm = make_llm(emulator, include_usage=False)
    final = (await run(llm, mode, user())).final
    assert "stream_options" not in _last_chat_body(emulator)
    assert final.raw.get("usage") is None
    assert "prompt_tokens" not in final.additional_kwargs
    assert final.message.content == f"Hello! You said: {USER}"


@pytest.mark.parametrize("mode", ["stream-sync", "stream-async"])
async def test_relay_rejecting_stream_options_still_streams(emulator: Emulator, mode: str) -> None:
    emulator.add_fault("reject_stream_options")
    final = (await run(make_llm(emulator), mode, user())).final
    assert final.message.content == f"Hello! You said: {USER}"
    assert [("stream_options" in r.json) for r in emulator.requests] == [True, False]


@pytest.mark.parametrize("mode", MODES)
async def test_call_kwargs_override_fields_and_additional_kwargs(
    emulator: Emulator, mode: str
) -> None:
    llm = make_llm(
        emulator, temperature=0.3, max_tokens=50, additional_kwargs={"top_p": 0.5, "seed": 1}
    )
    await run(llm, mode, user(), seed=7, extra_body={"emulator_cached_tokens": 2})
    body = _last_chat_body(emulator)
    assert (body["temperature"], body["max_tokens"], body["top_p"], body["seed"]) == (
        0.3,
        50,
        0.5,
        7,
    )
    assert body["emulator_cached_tokens"] == 2


@pytest.mark.parametrize("mode", MODES)
async def test_reasoning_is_kept_as_thinking_block_and_additional_kwargs(
    emulator: Emulator, mode: str
) -> None:
    llm = make_llm(emulator, model="emulator-reasoner")
    result = await run(llm, mode, user("why"))
    final = result.final
    thinking = [b for b in final.message.blocks if isinstance(b, ThinkingBlock)]
    assert [b.content for b in thinking] == ["Thinking about: why"]
    assert (
        thinking[0].num_tokens
        == final.raw["usage"]["completion_tokens_details"]["reasoning_tokens"]
    )
    assert final.message.additional_kwargs["reasoning_content"] == "Thinking about: why"
    assert final.message.content == "Hello! You said: why"
    if mode.startswith("stream"):
        deltas = [r.additional_kwargs.get("thinking_delta") or "" for r in result.responses]
        assert "".join(deltas) == "Thinking about: why"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "quirk", [None, "tool_repeat_id_name", "tool_index_missing", "tool_index_shared"]
)
async def test_tool_calls_are_never_concatenated(
    emulator: Emulator, mode: str, quirk: str | None
) -> None:
    if quirk:
        emulator.add_fault(quirk)
    llm = make_llm(emulator)
    kwargs = llm._prepare_chat_with_tools([ADD], user_msg="add 3 and 4")
    messages = kwargs.pop("messages")
    result = await run(llm, mode, messages, **kwargs)
    for partial in result.responses:  # agents parse every chunk: partial JSON must not raise
        llm.get_tool_calls_from_response(partial, error_on_no_tool_call=False)
    calls = llm.get_tool_calls_from_response(result.final)
    expected = 2 if quirk == "tool_index_shared" else 1
    assert len(calls) == expected
    assert calls[0].tool_name == "add"
    assert calls[0].tool_id.startswith("call_")
    assert calls[0].tool_id.count("call_") == 1
    assert all(c.tool_kwargs == {"a": 3, "b": 4} for c in calls)
    assert len({c.tool_id for c in calls}) == expected
    final = result.final.message
    blocks = [b for b in final.blocks if isinstance(b, ToolCallBlock)]
    wire = final.additional_kwargs["tool_calls"]  # streaming structured output reads this
    assert [(b.tool_call_id, b.tool_name) for b in blocks] == [
        (w.id, w.function.name) for w in wire
    ]
    assert not [b for b in final.blocks if isinstance(b, TextBlock) and b.text]


@pytest.mark.parametrize("mode", MODES)
async def test_tool_round_trip_sends_back_calls_and_results(emulator: Emulator, mode: str) -> None:
    llm = make_llm(emulator)
    first = llm.chat_with_tools([ADD], user_msg="add 3 and 4")
    call = llm.get_tool_calls_from_response(first)[0]
    from llama_index.core.llms import ChatMessage

    history = [
        ChatMessage(role="user", content="add 3 and 4"),
        first.message,
        ChatMessage(role="tool", content="7", additional_kwargs={"tool_call_id": call.tool_id}),
    ]
    final = (await run(llm, mode, history)).final
    assert final.message.content == "The tool returned: 7."
    sent = _last_chat_body(emulator)["messages"]
    assert sent[1]["role"] == "assistant"
    assert sent[1]["content"] is None
    assert sent[1]["tool_calls"] == [
        {
            "id": call.tool_id,
            "type": "function",
            "function": {"name": "add", "arguments": '{"a":3,"b":4}'},
        }
    ]
    assert sent[2] == {"role": "tool", "content": "7", "tool_call_id": call.tool_id}


async def test_complete_variants_are_derived_from_chat(emulator: Emulator) -> None:
    llm = make_llm(emulator)
    expected = "Hello! You said: hi there"
    assert llm.complete("hi there").text == expected
    assert (await llm.acomplete("hi there")).text == expected
    streamed = list(llm.stream_complete("hi there"))
    assert "".join(r.delta or "" for r in streamed) == expected
    assert streamed[-1].text == expected
    assert streamed[-1].raw["usage"]["prompt_tokens"] > 0
    astreamed = [r async for r in await llm.astream_complete("hi there")]
    assert astreamed[-1].text == expected
    assert all(
        r.json["messages"] == [{"role": "user", "content": "hi there"}] for r in emulator.requests
    )


async def test_sync_clients_are_shared_and_reuse_connections(emulator: Emulator) -> None:
    first, second = make_llm(emulator), make_llm(emulator, temperature=0.1)
    for llm in (first, second, first):
        llm.chat(user())
        list(llm.stream_chat(user()))
    assert emulator.connections_opened == 1
    for llm in (first, second):
        await llm.achat(user())
        [r async for r in await llm.astream_chat(user())]
    assert emulator.connections_opened == 2  # one more pool: the async client of this loop


async def test_stream_closed_early_releases_the_connection(emulator: Emulator) -> None:
    llm = make_llm(emulator)
    stream = llm.stream_chat(user("one two three four five six"))
    next(stream)
    stream.close()
    assert llm.chat(user()).message.content == f"Hello! You said: {USER}"


@pytest.mark.parametrize("mode", MODES)
async def test_on_usage_ledger_and_default_headers(emulator: Emulator, mode: str) -> None:
    from llama_index_holysheep import UsageLedger

    ledger = UsageLedger()
    llm = make_llm(emulator, on_usage=ledger, default_headers={"X-Team": "search"})
    final = (await run(llm, mode, user())).final
    assert ledger.total.requests == 1
    assert ledger.by_model["gpt-4.1"].total_tokens == final.additional_kwargs["total_tokens"]
    assert ledger.total.cost_usd == pytest.approx(final.additional_kwargs["cost_usd"])
    assert emulator.requests[-1].headers["x-team"] == "search"
    assert (
        emulator.requests[-1].headers["authorization"] == "Bearer hs_fake_test_key_0123456789abcdef"
    )


async def test_llama_index_rate_limiters_still_apply(emulator: Emulator) -> None:
    from llama_index.core.rate_limiter import TokenBucketRateLimiter

    class Counting(TokenBucketRateLimiter):
        acquired: int = 0

        def acquire(self, num_tokens: int = 0) -> None:
            self.acquired += 1
            super().acquire(num_tokens)

        async def async_acquire(self, num_tokens: int = 0) -> None:
            self.acquired += 1
            await super().async_acquire(num_tokens)

    limiter = Counting(requests_per_minute=1000)
    llm = make_llm(emulator, rate_limiter=limiter)
    assert llm.rate_limiter is limiter
    assert llm._provider().spec.rate_limiter is None
    for mode in MODES:
        await run(llm, mode, user())
    assert limiter.acquired == 4


def _clock(city: str) -> str:
    """Local time in a city."""
    return f"Noon in {city}"


@pytest.mark.parametrize(
    ("tool", "says"),
    [
        # a ToolMetadata without a name: LlamaIndex would send "name": null
        (
            FunctionTool(_clock, ToolMetadata(description="Local time.", name=None)),
            "tools[1] (FunctionTool) has no name",
        ),
        (FunctionTool.from_defaults(_clock, name="c" * 65), "tools[1] has function name"),
    ],
)
async def test_invalid_tools_are_refused_before_sending(
    emulator: Emulator, tool: FunctionTool, says: str
) -> None:
    llm = make_llm(emulator)
    with pytest.raises(InvalidInputError, match=re.escape(says)) as caught:
        llm.chat_with_tools([ADD, tool], user_msg="what time is it in Rome?")
    assert caught.value.status_code is None
    with pytest.raises(InvalidInputError, match=re.escape(says)):
        await llm.astream_chat_with_tools([ADD, tool], user_msg="what time is it in Rome?")
    assert emulator.requests == []


async def test_llama_index_tool_names_it_sanitises_still_pass(emulator: Emulator) -> None:
    """LlamaIndex itself turns 'world clock' into 'world_clock': that tool is sent."""
    llm = make_llm(emulator)
    tool = FunctionTool.from_defaults(_clock, name="world clock")
    response = llm.chat_with_tools([ADD, tool], user_msg="world_clock for Rome", tool_required=True)
    assert [t["function"]["name"] for t in _last_chat_body(emulator)["tools"]] == [
        "add",
        "world_clock",
    ]
    assert llm.get_tool_calls_from_response(response)[0].tool_name == "world_clock"
