"""ChatHolySheep against the emulator: requests sent, results, metadata, usage, reasoning."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from langchain_core.rate_limiters import InMemoryRateLimiter

from holysheep_relay import ModelNotFoundError, Pricing, Reservation, Usage, UsageEvent
from holysheep_relay.testing import Emulator
from langchain_holysheep import ChatHolySheep
from tests.langchain.helpers import call, chunks_of, last_body

PROMPT = "Hello there friend"
ANSWER = "Hello! You said: Hello there friend"


def test_result_content_usage_and_metadata(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep], mode: str
) -> None:
    result = call(mode, make_llm(model="gpt-4.1"), PROMPT)
    assert isinstance(result, AIMessage)
    assert result.content == ANSWER
    # the emulator counts words: 3 + 3 prompt tokens, 6 answer words
    assert result.usage_metadata is not None
    assert result.usage_metadata["input_tokens"] == 6
    assert result.usage_metadata["output_tokens"] == 6
    assert result.usage_metadata["total_tokens"] == 12
    meta = result.response_metadata
    assert meta["model_name"] == "gpt-4.1"
    assert meta["finish_reason"] == "stop"
    assert meta["system_fingerprint"] == "fp_emulator"
    assert meta["id"].startswith("chatcmpl-")
    assert meta["request_id"] == f"req_{len(emulator.requests)}"
    assert meta["model_provider"] == "holysheep"
    expected_cost = Pricing.default().cost(
        "gpt-4.1", Usage(prompt_tokens=6, completion_tokens=6, total_tokens=12)
    )
    assert meta["cost_usd"] == pytest.approx(expected_cost)
    assert ("token_usage" in meta) == (mode in ("invoke", "ainvoke"))


def test_model_name_comes_from_the_reply_and_is_sent_as_written(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep], mode: str
) -> None:
    result = call(mode, make_llm(model="claude-sonnet-4-20250514"), PROMPT)
    assert result.response_metadata["model_name"] == "claude-sonnet-4-20250514"
    assert emulator.requests[-1].json["model"] == "claude-sonnet-4-20250514"
    with pytest.raises(ModelNotFoundError) as info:  # an alias is not rewritten
        call(mode, make_llm(model="sonnet-4"), PROMPT)
    assert emulator.requests[-1].json["model"] == "sonnet-4"
    assert "claude-sonnet-4" in info.value.suggestions[0]


def test_unpriced_model_has_cost_none(make_llm: Callable[..., ChatHolySheep], mode: str) -> None:
    result = call(mode, make_llm(model="emulator-model"), PROMPT)
    assert result.response_metadata["cost_usd"] is None
    assert result.usage_metadata is not None


def test_stream_yields_usage_exactly_once(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep], stream_mode: str
) -> None:
    emulator.add_fault("repeated_usage")  # running totals on every chunk, as some relays do
    chunks = chunks_of(stream_mode, make_llm(), PROMPT)
    with_usage = [c for c in chunks if c.usage_metadata]
    assert len(with_usage) == 1
    assert with_usage[0] is chunks[-1]
    assert chunks[-1].chunk_position == "last"
    assert with_usage[0].usage_metadata["total_tokens"] == 12
    assert [c.content for c in chunks[:-1]] == [
        "Hello!",
        " You",
        " said:",
        " Hello",
        " there",
        " friend",
    ]
    assert sum(1 for c in chunks if c.response_metadata.get("model_name")) == 1


def test_stream_usage_can_be_turned_off(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep], stream_mode: str
) -> None:
    result = call(stream_mode, make_llm(stream_usage=False), PROMPT)
    assert "stream_options" not in last_body(emulator)
    assert result.usage_metadata is None
    call(stream_mode, make_llm().bind(stream_usage=False), PROMPT)
    assert "stream_options" not in last_body(emulator)
    no_usage = {"stream_options": {"include_usage": False}}
    call(stream_mode, make_llm(model_kwargs=no_usage), PROMPT)
    assert "stream_options" not in last_body(emulator)
    call(stream_mode, make_llm().bind(**no_usage), PROMPT)
    assert "stream_options" not in last_body(emulator)
    call(stream_mode, make_llm(), PROMPT)
    assert last_body(emulator)["stream_options"] == {"include_usage": True}


def test_reasoning_content_lands_in_additional_kwargs(
    make_llm: Callable[..., ChatHolySheep], mode: str
) -> None:
    result = call(mode, make_llm(model="deepseek-reasoner"), PROMPT)
    assert result.additional_kwargs["reasoning_content"] == f"Thinking about: {PROMPT}"
    assert result.content == ANSWER
    assert result.usage_metadata["output_token_details"]["reasoning"] == 5
    assert any(b["type"] == "reasoning" for b in result.content_blocks)


def test_cached_tokens_are_reported(make_llm: Callable[..., ChatHolySheep], mode: str) -> None:
    llm = make_llm(extra_body={"emulator_cached_tokens": 4})
    result = call(mode, llm, PROMPT)
    assert result.usage_metadata["input_token_details"]["cache_read"] == 4


def test_request_body_parameters(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep]
) -> None:
    llm = make_llm(
        temperature=0.2,
        max_tokens=50,
        top_p=0.9,
        seed=7,
        n=1,
        logprobs=False,
        stop=["END"],
        model_kwargs={"top_logprobs": 2},
        extra_body={"custom_flag": True},
        default_headers={"X-Team": "search"},
    )
    llm.invoke([SystemMessage("Be brief."), HumanMessage(PROMPT)])
    body = last_body(emulator)
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert {k: body[k] for k in ("temperature", "max_tokens", "top_p", "seed", "n", "stop")} == {
        "temperature": 0.2,
        "max_tokens": 50,
        "top_p": 0.9,
        "seed": 7,
        "n": 1,
        "stop": ["END"],
    }
    assert body["logprobs"] is False
    assert body["top_logprobs"] == 2
    assert body["custom_flag"] is True
    assert "max_completion_tokens" not in body
    assert "stream" not in body
    headers = emulator.requests[-1].headers
    assert headers["x-team"] == "search"
    assert headers["authorization"] == "Bearer hs_fake_test_key_0123456789abcdef"


def test_call_kwargs_override_the_defaults(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep], mode: str
) -> None:
    llm = make_llm(temperature=0.2, stop=["x"], extra_body={"a": 1})
    result = call(mode, llm.bind(temperature=1.0, extra_body={"b": 2}), PROMPT, stop=["END"])
    body = last_body(emulator)
    assert body["temperature"] == 1.0
    assert body["stop"] == ["END"]
    assert body["a"] == 1
    assert body["b"] == 2
    assert result.content == ANSWER
    result = call(mode, llm, PROMPT, model="deepseek-v3.2")
    assert last_body(emulator)["model"] == "deepseek-v3.2"
    assert result.response_metadata["model_name"] == "deepseek-v3.2"


def test_empty_stop_list_is_not_sent(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep]
) -> None:
    make_llm(stop=[]).invoke(PROMPT)
    assert "stop" not in last_body(emulator)


def test_streaming_flag_streams_on_invoke(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep]
) -> None:
    result = make_llm(streaming=True).invoke(PROMPT)
    assert last_body(emulator)["stream"] is True
    assert result.content == ANSWER
    assert result.usage_metadata is not None


def test_n_choices_become_generations(make_llm: Callable[..., ChatHolySheep]) -> None:
    result = make_llm(n=2).generate([[HumanMessage(PROMPT)]])
    assert [g.text for g in result.generations[0]] == [ANSWER, ANSWER]


def test_batch_and_abatch(make_llm: Callable[..., ChatHolySheep]) -> None:
    import asyncio

    llm = make_llm()
    assert [m.content for m in llm.batch(["a b", "c"])] == [
        "Hello! You said: a b",
        "Hello! You said: c",
    ]
    results = asyncio.run(llm.abatch(["a b", "c"]))
    assert [m.content for m in results] == ["Hello! You said: a b", "Hello! You said: c"]


def test_on_usage_gets_one_event_per_request(
    make_llm: Callable[..., ChatHolySheep], mode: str
) -> None:
    events: list[UsageEvent] = []

    def broken(event: UsageEvent) -> None:
        raise RuntimeError("a callback bug must not break the call")

    llm = make_llm(on_usage=[events.append, broken])
    result = call(mode, llm, PROMPT)
    call(mode, make_llm(), PROMPT)  # another model on the same pooled client: not reported
    assert len(events) == 1
    event = events[0]
    assert event.model == "gpt-4.1"
    assert event.total_tokens == 12
    assert event.cost_usd == result.response_metadata["cost_usd"]
    assert event.request_id == result.response_metadata["request_id"]
    assert event.streamed == (mode in ("stream", "astream"))


def test_langchain_rate_limiter_is_honoured(
    make_llm: Callable[..., ChatHolySheep], mode: str
) -> None:
    limiter = InMemoryRateLimiter(requests_per_second=1000, max_bucket_size=10)
    acquired: list[bool] = []
    original = limiter.acquire
    original_async = limiter.aacquire

    def acquire(*, blocking: bool = True) -> bool:
        acquired.append(blocking)
        return original(blocking=blocking)

    async def aacquire(*, blocking: bool = True) -> bool:
        acquired.append(blocking)
        return await original_async(blocking=blocking)

    object.__setattr__(limiter, "acquire", acquire)
    object.__setattr__(limiter, "aacquire", aacquire)
    call(mode, make_llm(rate_limiter=limiter), PROMPT)
    assert acquired == [True]


def test_core_rate_limiter_is_shared_and_reconciled(
    make_llm: Callable[..., ChatHolySheep], mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_llm(requests_per_minute=601, tokens_per_minute=100_001)
    second = make_llm(requests_per_minute=601, tokens_per_minute=100_001)
    limiter = first._sync_client().rate_limiter
    assert limiter is not None
    assert limiter is second._sync_client().rate_limiter
    assert limiter.requests_per_minute == 601
    assert limiter.tokens_per_minute == 100_001
    assert make_llm(requests_per_minute=5)._sync_client().rate_limiter is not limiter
    assert make_llm()._sync_client().rate_limiter is None
    seen: list[tuple[str, int, int]] = []
    reserve, reconcile = limiter.reserve, limiter.reconcile

    def spy_reserve(tokens: int = 0) -> Reservation:
        seen.append(("reserve", tokens, 0))
        return reserve(tokens)

    async def spy_areserve(tokens: int = 0) -> Reservation:
        return spy_reserve(tokens)

    def spy_reconcile(reservation: Reservation, actual: int) -> None:
        seen.append(("reconcile", reservation.tokens, actual))
        reconcile(reservation, actual)

    async def spy_areconcile(reservation: Reservation, actual: int) -> None:
        spy_reconcile(reservation, actual)

    monkeypatch.setattr(limiter, "reserve", spy_reserve)
    monkeypatch.setattr(limiter, "areserve", spy_areserve)
    monkeypatch.setattr(limiter, "reconcile", spy_reconcile)
    monkeypatch.setattr(limiter, "areconcile", spy_areconcile)
    call(mode, second, PROMPT)
    assert [s[0] for s in seen] == ["reserve", "reconcile"]
    assert seen[0][1] > 0
    assert seen[1] == ("reconcile", seen[0][1], 12)


def test_get_num_tokens_is_offline_and_total(make_llm: Callable[..., ChatHolySheep]) -> None:
    llm = make_llm()
    assert llm.get_num_tokens("abcdefgh") == 2
    msgs = [SystemMessage("x" * 40), HumanMessage("y" * 400), AIMessage("", tool_calls=[])]
    n = llm.get_num_tokens_from_messages(msgs)
    assert 110 < n < 200
    odd = [HumanMessage([{"type": "weird", "payload": object()}])]
    assert llm.get_num_tokens_from_messages(odd) > 0
    with_tools = llm.get_num_tokens_from_messages(msgs, tools=[{"bad": "tool"}])
    assert with_tools >= n
    counted = make_llm(custom_get_token_ids=lambda t: list(range(len(t))))
    assert counted.get_num_tokens("abc") == 3


def test_profile_comes_from_the_catalog(make_llm: Callable[..., ChatHolySheep]) -> None:
    haiku = make_llm(model="haiku-4").profile
    assert haiku is not None
    assert haiku["max_input_tokens"] == 200_000
    assert haiku["max_output_tokens"] == 4096
    assert haiku["image_inputs"] is False
    assert haiku["tool_calling"] is True
    assert make_llm(model="deepseek-v3.2").profile["structured_output"] is False  # type: ignore[index]
    assert make_llm(model="deepseek-reasoner").profile["reasoning_output"] is True  # type: ignore[index]
    unknown = make_llm(model="emulator-model").profile
    assert unknown is not None
    assert unknown["max_input_tokens"] == 32768


def test_ls_params(make_llm: Callable[..., ChatHolySheep]) -> None:
    llm = make_llm(temperature=0.3, max_tokens=20, stop="END")
    assert llm._get_ls_params() == {
        "ls_provider": "holysheep",
        "ls_model_name": "gpt-4.1",
        "ls_model_type": "chat",
        "ls_temperature": 0.3,
        "ls_max_tokens": 20,
        "ls_stop": ["END"],
    }
    assert llm._get_ls_params(model="x", stop=["a"])["ls_model_name"] == "x"


def test_model_name_alias_and_chunk_types(make_llm: Callable[..., ChatHolySheep]) -> None:
    llm = ChatHolySheep(model_name="gpt-4.1", api_key="hs_fake_test_key_0123456789abcdef")
    assert llm.model == "gpt-4.1"
    chunks = list(make_llm().stream(PROMPT))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)


def test_langchain_cache_hits_skip_the_relay(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep]
) -> None:
    from langchain_core.caches import InMemoryCache

    llm = make_llm(cache=InMemoryCache())
    first = llm.invoke(PROMPT)
    second = llm.invoke(PROMPT)
    assert emulator.attempts() == 1
    assert second.content == first.content


def test_abandoned_stream_is_closed_and_not_reported(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep]
) -> None:
    events: list[UsageEvent] = []
    llm = make_llm(on_usage=events.append)
    stream = llm.stream(" ".join(["word"] * 200))
    first = next(stream)
    assert first.content == "Hello!"
    stream.close()
    assert events == []
    assert llm.invoke(PROMPT).content == ANSWER
    assert len(events) == 1


def _reasoning_alias_reply(stream: bool) -> dict[str, Any]:
    """A relay that names the field ``reasoning`` (OpenRouter style) instead."""
    if not stream:
        body = {
            "id": "chatcmpl-r",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-5.4",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "4", "reasoning": "2+2"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        }
        return {"status": 200, "body": body}
    frames = [
        {"role": "assistant", "reasoning": "2+"},
        {"reasoning": "2"},
        {"content": "4"},
    ]
    text = "".join(
        "data: "
        + json.dumps(
            {
                "id": "chatcmpl-r",
                "model": "gpt-5.4",
                "choices": [{"index": 0, "delta": d, "finish_reason": None}],
            }
        )
        + "\n\n"
        for d in frames
    )
    end = {
        "id": "chatcmpl-r",
        "model": "gpt-5.4",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    }
    text += f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n"
    return {"status": 200, "body": text, "content_type": "text/event-stream"}


def test_reasoning_field_alias(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep], mode: str
) -> None:
    emulator.add_fault("status", **_reasoning_alias_reply(mode in ("stream", "astream")))
    result = call(mode, make_llm(model="gpt-5.4"), "What is 2+2?")
    assert result.content == "4"
    assert result.additional_kwargs["reasoning_content"] == "2+2"
