"""Per-model usage: own callbacks and pricing, one shared pooled client, one event per request."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from holysheep_relay import (
    Pricing,
    StreamInterruptedError,
    Usage,
    UsageEvent,
    UsageLedger,
)
from holysheep_relay import shared_clients as pool_module
from holysheep_relay.testing import Emulator
from llama_index_holysheep import HolySheepEmbedding
from tests.emulator_fixtures import TEST_API_KEY
from tests.llama_index.conftest import MODES, make_llm, run, user

# Far from the shipped gpt-4.1 estimate, so an override is visible in every cost.
PRICES_A = {"gpt-4.1": {"input": 1000.0, "output": 3000.0}}
PRICES_B = {"gpt-4.1": {"input": 7.0, "output": 11.0}}


def _cost(prices: dict[str, dict[str, float]], meta: dict[str, Any]) -> float:
    price = prices["gpt-4.1"]
    return (
        meta["prompt_tokens"] * price["input"] + meta["completion_tokens"] * price["output"]
    ) / 1_000_000


def _embedder(emulator: Emulator, **kw: Any) -> HolySheepEmbedding:
    return HolySheepEmbedding(api_key=TEST_API_KEY, base_url=emulator.base_url, **kw)


def _boom(event: UsageEvent) -> None:
    raise RuntimeError("bug in a usage callback")


async def test_models_with_their_own_ledgers_and_prices_share_one_pooled_client(
    emulator: Emulator,
) -> None:
    ledger_a, ledger_b = UsageLedger(), UsageLedger()
    a = make_llm(emulator, on_usage=ledger_a, pricing=PRICES_A)
    b = make_llm(emulator, on_usage=[ledger_b], pricing=PRICES_B)
    assert a._provider().client() is b._provider().client()
    answers_a = [a.chat(user()), await a.achat(user())]
    answer_b = list(b.stream_chat(user()))[-1]
    assert len(pool_module._sync) == 1
    assert emulator.connections_opened == 2  # sync + async
    assert await a._provider().async_client() is await b._provider().async_client()

    assert ledger_a.total.requests == 2
    assert ledger_b.total.requests == 1
    tokens_a = sum(r.additional_kwargs["total_tokens"] for r in answers_a)
    assert ledger_a.total.total_tokens == tokens_a
    assert ledger_b.total.total_tokens == answer_b.additional_kwargs["total_tokens"]
    assert ledger_a.total.cost_usd == pytest.approx(
        sum(_cost(PRICES_A, r.additional_kwargs) for r in answers_a)
    )
    assert ledger_b.total.cost_usd == pytest.approx(_cost(PRICES_B, answer_b.additional_kwargs))


def test_a_model_per_request_does_not_grow_the_pool(emulator: Emulator) -> None:
    ledgers = []
    for i in range(20):  # a server building HolySheep(on_usage=UsageLedger()) per request
        ledger = UsageLedger()
        llm = make_llm(emulator, on_usage=ledger, pricing={"gpt-4.1": {"input": i, "output": i}})
        llm.chat(user())
        ledgers.append(ledger)
    assert len(pool_module._sync) == 1
    assert emulator.connections_opened == 1
    assert [ledger.total.requests for ledger in ledgers] == [1] * 20


@pytest.mark.parametrize("mode", MODES)
async def test_one_event_per_request_matching_the_response(emulator: Emulator, mode: str) -> None:
    events: list[UsageEvent] = []
    llm = make_llm(emulator, on_usage=events.append)
    chat = await run(llm, mode, user())
    meta = chat.final.additional_kwargs
    [event] = events
    assert event.streamed is mode.startswith("stream")
    assert event.model == meta["model"] == "gpt-4.1"
    assert event.request_id == meta["request_id"] is not None
    assert event.total_tokens == meta["total_tokens"] > 0
    assert event.prompt_tokens == meta["prompt_tokens"]
    assert event.completion_tokens == meta["completion_tokens"]
    assert event.cost_usd == meta["cost_usd"] == Pricing.default().cost("gpt-4.1", event.usage)
    assert event.cost_usd is not None
    assert event.cost_usd > 0
    assert event.latency_ms == meta["latency_ms"] > 0
    if mode.startswith("stream"):
        assert all(r.additional_kwargs.get("cost_usd") is None for r in chat.responses[:-1])


async def test_completion_methods_report_once_each(emulator: Emulator) -> None:
    events: list[UsageEvent] = []
    llm = make_llm(emulator, on_usage=events.append)
    texts = [
        llm.complete("one").text,
        (await llm.acomplete("two")).text,
        "".join(r.delta or "" for r in llm.stream_complete("three")),
        "".join([r.delta or "" async for r in await llm.astream_complete("four")]),
    ]
    assert texts == [f"Hello! You said: {w}" for w in ("one", "two", "three", "four")]
    assert [e.streamed for e in events] == [False, False, True, True]
    assert len({e.request_id for e in events}) == 4


@pytest.mark.parametrize("mode", MODES)
async def test_pricing_override_is_in_the_response_and_the_event(
    emulator: Emulator, mode: str
) -> None:
    events: list[UsageEvent] = []
    priced = make_llm(emulator, on_usage=events.append, pricing=PRICES_A)
    meta = (await run(priced, mode, user())).final.additional_kwargs
    default_meta = (await run(make_llm(emulator), mode, user())).final.additional_kwargs
    assert meta["cost_usd"] == pytest.approx(_cost(PRICES_A, meta))
    assert [e.cost_usd for e in events] == [meta["cost_usd"]]
    assert default_meta["cost_usd"] == pytest.approx(
        Pricing.default().cost("gpt-4.1", events[0].usage)
    )
    assert default_meta["cost_usd"] != pytest.approx(meta["cost_usd"])


@pytest.mark.parametrize("mode", MODES)
async def test_a_broken_callback_does_not_break_the_call(
    emulator: Emulator, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = UsageLedger()
    llm = make_llm(emulator, on_usage=[_boom, ledger])
    with caplog.at_level(logging.ERROR, logger="holysheep_relay"):
        final = (await run(llm, mode, user())).final
    assert final.message.content == "Hello! You said: What is the capital of France?"
    assert ledger.total.requests == 1  # the callbacks after the broken one still ran
    assert "on_usage callback" in caplog.text
    assert "bug in a usage callback" in caplog.text


@pytest.mark.parametrize("sync", [True, False])
async def test_a_stream_that_ends_early_reports_nothing(emulator: Emulator, sync: bool) -> None:
    events: list[UsageEvent] = []
    llm = make_llm(emulator, on_usage=events.append)
    emulator.add_fault("truncated_stream", after=2)
    if sync:
        with pytest.raises(StreamInterruptedError):
            list(llm.stream_chat(user("one two three four five")))
    else:
        with pytest.raises(StreamInterruptedError):
            [r async for r in await llm.astream_chat(user("one two three four five"))]
    assert events == []


async def test_embeddings_report_each_request_to_their_own_ledger(emulator: Emulator) -> None:
    ledger_a, ledger_b = UsageLedger(), UsageLedger()
    prices = {"text-embedding-3-small": {"input": 500.0, "output": 0.0}}
    a = _embedder(emulator, on_usage=ledger_a, pricing=prices, embed_batch_size=3)
    b = _embedder(emulator, on_usage=[_boom, ledger_b])
    assert a._provider().client() is b._provider().client()
    a.get_text_embedding_batch([f"text {i}" for i in range(7)])  # 3 requests
    await b.aget_text_embedding("hello")
    assert len(pool_module._sync) == 1
    assert ledger_a.total.requests == 3
    assert ledger_b.total.requests == 1
    prompt_tokens = ledger_a.total.prompt_tokens
    assert prompt_tokens > 0
    assert ledger_a.total.cost_usd == pytest.approx(prompt_tokens * 500.0 / 1_000_000)
    b_usage = Usage(prompt_tokens=ledger_b.total.prompt_tokens)
    default = Pricing.default().cost("text-embedding-3-small", b_usage)
    assert default is not None
    assert ledger_b.total.cost_usd == pytest.approx(default)


def test_async_clients_are_shared_too(emulator: Emulator) -> None:
    ledgers = [UsageLedger() for _ in range(3)]
    models = [make_llm(emulator, on_usage=ledger, pricing=PRICES_B) for ledger in ledgers]

    async def go() -> int:
        for llm in models:
            await llm.achat(user())
        return len(pool_module._async)

    assert asyncio.run(go()) == 1
    assert [ledger.total.requests for ledger in ledgers] == [1, 1, 1]
