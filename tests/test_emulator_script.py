"""``Emulator.script``: exact answers, queued, one per chat request, streamed or not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from holysheep_relay import AsyncRelayClient, RelayClient, StreamInterruptedError
from holysheep_relay.testing import FAKE_API_KEY, Emulator, count_prompt_tokens

MODEL = "gpt-4.1"
HI: Any = [{"role": "user", "content": "Hi there"}]
ADD_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "add",
        "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}},
    },
}


def client(emulator: Emulator, **kwargs: Any) -> RelayClient:
    kwargs.setdefault("max_retries", 0)
    return RelayClient(base_url=emulator.base_url, api_key=FAKE_API_KEY, **kwargs)


@pytest.fixture
def sdk(emulator: Emulator) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=emulator.base_url, api_key=FAKE_API_KEY, max_retries=0) as c:
        yield c


@pytest.mark.parametrize("stream", [False, True])
def test_text_and_usage_exactly_as_scripted(emulator: Emulator, stream: bool) -> None:
    emulator.script(text="Exactly this, with  two spaces.", usage={"prompt_tokens": 7})
    emulator.script(text="Second.", usage={"completion_tokens": 40, "total_tokens": 99})
    with client(emulator) as relay:
        for _ in range(3):
            if stream:
                with relay.stream_chat(model=MODEL, messages=HI) as s:
                    list(s)
                result = s.result
                content, usage, finish = result.content, result.usage, result.finish_reason
            else:
                reply = relay.chat(model=MODEL, messages=HI)
                choice = reply.choices[0]
                content, usage, finish = choice.message.content, reply.usage, choice.finish_reason
            assert usage is not None
            got = (content, usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)
            if emulator.attempts() == 1:
                assert got == ("Exactly this, with  two spaces.", 7, 5, 12)
            elif emulator.attempts() == 2:
                assert got == ("Second.", count_prompt_tokens({"messages": HI}), 40, 99)
            else:  # the queue is empty: the deterministic answer again
                assert content == "Hello! You said: Hi there"
            assert finish == "stop"
    assert emulator.scripts_pending == 0


@pytest.mark.parametrize("stream", [False, True])
def test_tool_calls_as_scripted(emulator: Emulator, stream: bool) -> None:
    emulator.script(
        tool_calls=[
            {"name": "add", "arguments": {"a": 2, "b": 40}},
            {"name": "lookup", "arguments": '{"q": "not even valid JSON"', "id": "call_mine"},
        ]
    )
    kwargs: dict[str, Any] = {"model": MODEL, "messages": HI, "tools": [ADD_TOOL]}
    with client(emulator) as relay:
        if stream:
            with relay.stream_chat(**kwargs) as s:
                list(s)
            content, calls, finish = s.result.content, s.result.tool_calls, s.result.finish_reason
        else:
            reply = relay.chat(**kwargs)
            message, finish = reply.choices[0].message, reply.choices[0].finish_reason
            content, calls = message.content, message.tool_calls or []
    assert finish == "tool_calls"
    assert content in (None, "")
    assert [(c.function.name, c.function.arguments) for c in calls] == [
        ("add", '{"a":2,"b":40}'),
        ("lookup", '{"q": "not even valid JSON"'),
    ]
    assert calls[0].id.startswith("call_")
    assert calls[1].id == "call_mine"


@pytest.mark.parametrize("stream", [False, True])
def test_json_reasoning_and_finish_reason(
    emulator: Emulator, sdk: openai.OpenAI, stream: bool
) -> None:
    value = {"city": "Lyon", "population_millions": 0.52, "tags": ["food", "silk"]}
    emulator.script(json=value, reasoning="Lyon is in France.", finish_reason="length")
    if stream:
        chunks = list(
            sdk.chat.completions.create(
                model=MODEL,
                messages=HI,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        deltas = [c.choices[0].delta for c in chunks if c.choices]
        content = "".join(d.content or "" for d in deltas)
        reasoning = "".join(getattr(d, "reasoning_content", None) or "" for d in deltas)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
        usage = chunks[-1].usage
    else:
        reply = sdk.chat.completions.create(model=MODEL, messages=HI)
        message = reply.choices[0].message
        content, finish, usage = message.content or "", reply.choices[0].finish_reason, reply.usage
        reasoning = getattr(message, "reasoning_content", "")
    assert json.loads(content) == value
    assert (reasoning, finish) == ("Lyon is in France.", "length")
    assert usage is not None
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 4
    assert usage.completion_tokens == len(content.split()) + 4


def test_usage_only_keeps_the_computed_answer(emulator: Emulator) -> None:
    emulator.script(usage={"prompt_tokens_details": {"cached_tokens": 3}})
    with client(emulator) as relay:
        reply = relay.chat(model=MODEL, messages=HI)
    assert reply.choices[0].message.content == "Hello! You said: Hi there"
    assert reply.usage is not None
    assert reply.usage.cached_tokens == 3
    assert reply.usage.prompt_tokens == count_prompt_tokens({"messages": HI})


def test_a_scripted_answer_survives_an_error_fault_and_a_reset(emulator: Emulator) -> None:
    emulator.script(text="after the retries")
    emulator.add_fault("rate_limit", retry_after=0)
    emulator.add_fault("reset_during_stream")  # not streamed: a reset before any reply
    with client(emulator, max_retries=2) as relay:
        reply = relay.chat(model=MODEL, messages=HI)
    assert reply.choices[0].message.content == "after the retries"
    assert emulator.attempts() == 3
    assert emulator.scripts_pending == 0


def test_a_break_after_content_leaves_the_script_queued(emulator: Emulator) -> None:
    emulator.script(text="one two three four five six")
    emulator.add_fault("reset_during_stream", after=3)
    with client(emulator) as relay:
        with (
            pytest.raises(StreamInterruptedError),
            relay.stream_chat(model=MODEL, messages=HI) as s,
        ):
            list(s)
        assert emulator.scripts_pending == 1
        reply = relay.chat(model=MODEL, messages=HI)
    assert reply.choices[0].message.content == "one two three four five six"
    assert emulator.scripts_pending == 0


async def test_async_client_and_n_choices(emulator: Emulator) -> None:
    emulator.script(text="same for all")
    async with AsyncRelayClient(base_url=emulator.base_url, api_key=FAKE_API_KEY) as relay:
        reply = await relay.chat(model=MODEL, messages=HI, n=2)
    assert [c.message.content for c in reply.choices] == ["same for all", "same for all"]


def test_other_endpoints_and_rejected_requests_do_not_use_a_script(
    emulator: Emulator, sdk: openai.OpenAI
) -> None:
    emulator.script(text="kept")
    with client(emulator) as relay:
        relay.list_models()
        relay.embed(model="text-embedding-3-small", input=["x"])
        with pytest.raises(openai.BadRequestError):
            sdk.chat.completions.create(model=MODEL, messages=[])
        assert emulator.scripts_pending == 1
        assert relay.chat(model=MODEL, messages=HI).choices[0].message.content == "kept"


def test_reset_forgets_scripts(emulator: Emulator) -> None:
    emulator.script(text="never sent")
    emulator.reset()
    assert emulator.scripts_pending == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"text": "a", "json": {}}, ValueError, "not both"),
        ({"text": 3}, TypeError, "text must be a string"),
        ({"tool_calls": [{"arguments": {}}]}, ValueError, "needs a 'name'"),
        ({"tool_calls": "add"}, TypeError, "list of dicts"),
        ({"tool_calls": ["add"]}, TypeError, "must be a dict"),
        ({"tool_calls": [{"name": "f", "id": 5}]}, TypeError, r"\['id'\] must be a string"),
        ({"usage": {"prompt_tokens": -1}}, ValueError, "int >= 0"),
        ({"usage": {"prompt_tokens": True}}, ValueError, "int >= 0"),
        ({"usage": 5}, TypeError, "usage must be a dict"),
        ({"finish_reason": 1}, TypeError, "finish_reason must be a string"),
    ],
)
def test_bad_scripts_fail_at_once(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    emulator = Emulator()  # never started: checking needs no server
    with pytest.raises(error, match=match):
        emulator.script(**kwargs)
    assert emulator.scripts_pending == 0


def test_openai_shaped_tool_calls_are_accepted(emulator: Emulator, sdk: openai.OpenAI) -> None:
    emulator.script(
        tool_calls=[{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    )
    reply = sdk.chat.completions.create(model=MODEL, messages=HI)
    calls = reply.choices[0].message.tool_calls or []
    assert [(c.id, c.type) for c in calls] == [("c1", "function")]
    assert reply.choices[0].finish_reason == "tool_calls"
