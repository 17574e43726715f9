"""get_holysheep_callback(): requests, tokens and USD over everything run inside the block."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from holysheep_relay.testing import Emulator
from langchain_holysheep import ChatHolySheep, HolySheepCallbackHandler, get_holysheep_callback
from tests.langchain.helpers import acollect, call

PROMPT = "Hello there friend"  # 6 prompt + 6 completion tokens on the emulator


def test_totals_cover_invoke_and_streams_once_each(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep]
) -> None:
    llm = make_llm()
    results = []
    with get_holysheep_callback() as cb:
        for mode in ("invoke", "ainvoke", "stream", "astream"):
            emulator.add_fault("repeated_usage")  # streams repeat running totals
            results.append(call(mode, llm, PROMPT))
    assert cb.requests == cb.successful_requests == 4
    assert (cb.prompt_tokens, cb.completion_tokens, cb.total_tokens) == (24, 24, 48)
    assert cb.total_cost == pytest.approx(sum(r.response_metadata["cost_usd"] for r in results))
    assert cb.total_cost > 0
    assert cb.unpriced_requests == 0
    assert "Total Cost (USD)" in repr(cb)
    assert "gpt-4.1" in cb.report()


def test_per_model_breakdown_and_unpriced_models(make_llm: Callable[..., ChatHolySheep]) -> None:
    with get_holysheep_callback() as cb:
        make_llm(model="gpt-4.1").invoke(PROMPT)
        make_llm(model="deepseek-reasoner").invoke(PROMPT)
        list(make_llm(model="emulator-model").stream(PROMPT))
    assert set(cb.by_model) == {"gpt-4.1", "deepseek-reasoner", "emulator-model"}
    assert cb.by_model["deepseek-reasoner"].reasoning_tokens == 5
    assert cb.by_model["emulator-model"].unpriced_requests == 1
    assert cb.unpriced_requests == 2  # deepseek-reasoner has no price in the shipped table
    assert cb.total_cost == pytest.approx(cb.by_model["gpt-4.1"].cost_usd)


def test_nothing_counted_outside_the_block_and_nesting_reports_upwards(
    make_llm: Callable[..., ChatHolySheep],
) -> None:
    llm = make_llm()
    with get_holysheep_callback() as outer:
        llm.invoke(PROMPT)
        with get_holysheep_callback() as inner:
            llm.invoke(PROMPT)
        llm.invoke(PROMPT)
    llm.invoke(PROMPT)
    assert (inner.requests, outer.requests) == (1, 3)


def test_thread_safe_under_batch(make_llm: Callable[..., ChatHolySheep]) -> None:
    llm = make_llm()
    with get_holysheep_callback() as cb:
        llm.batch([PROMPT] * 24, config={"max_concurrency": 8})
    assert cb.requests == 24
    assert cb.total_tokens == 24 * 12


def test_async_tasks_are_counted(make_llm: Callable[..., ChatHolySheep]) -> None:
    llm = make_llm()

    async def run() -> HolySheepCallbackHandler:
        with get_holysheep_callback() as cb:
            await asyncio.gather(
                *(llm.ainvoke(PROMPT) for _ in range(5)),
                *(acollect(llm.astream(PROMPT)) for _ in range(5)),
            )
        return cb

    cb = asyncio.run(run())
    assert cb.requests == 10
    assert cb.total_tokens == 120


def test_cache_hits_are_not_billed(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep]
) -> None:
    llm = make_llm(cache=InMemoryCache())
    with get_holysheep_callback() as cb:
        llm.invoke(PROMPT)
        llm.invoke(PROMPT)
    assert emulator.attempts() == 1
    assert cb.requests == 1
    assert cb.total_tokens == 12


def test_other_models_count_as_unpriced_requests() -> None:
    fake = GenericFakeChatModel(messages=iter([AIMessage("hi")]))
    with get_holysheep_callback() as cb:
        fake.invoke("x")
    assert cb.requests == 1
    assert cb.unpriced_requests == 1
    assert cb.total_tokens == 0
