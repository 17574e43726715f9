"""Every entry point takes a RedisRateLimiter and a SpendBudget on Redis (``rate_limiter=``,
``budget=``): the four adapter classes and both core clients, sync and async, all counted
in one window and one budget. (The same across worker processes: test_fleet_budget.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis
from llama_index.core.llms import ChatMessage

from holysheep_relay import (
    AsyncRelayClient,
    BudgetExceededError,
    RedisRateLimiter,
    RelayClient,
    SpendBudget,
)
from holysheep_relay.testing import Emulator
from langchain_holysheep import ChatHolySheep, HolySheepEmbeddings
from llama_index_holysheep import HolySheep, HolySheepEmbedding
from tests.emulator_fixtures import TEST_API_KEY

CHAT, EMBED = "gpt-4.1", "text-embedding-3-small"
PRICING = {
    CHAT: {"input": 1000.0, "output": 1000.0},
    EMBED: {"input": 1000.0, "output": 0.0},
}


@pytest.fixture
def shared(redis_url: str) -> dict[str, Any]:
    return {
        "rate_limiter": RedisRateLimiter(redis_url, requests_per_minute=10_000, name="all"),
        "budget": SpendBudget(100.0, period=None, store=redis_url, name="all"),
    }


def _requests_counted(redis_url: str) -> int:
    return int(redis.Redis.from_url(redis_url).zcard("holysheep:{all}:rl:requests:times"))


def test_one_window_and_one_budget_for_every_entry_point(
    emulator: Emulator, redis_url: str, shared: dict[str, Any]
) -> None:
    kw: dict[str, Any] = {"api_key": TEST_API_KEY, "base_url": emulator.base_url}
    priced = {**kw, "pricing": PRICING, **shared}
    costs: list[float] = []

    # langchain: chat (invoke, ainvoke, stream) and embeddings
    llm = ChatHolySheep(model=CHAT, max_tokens=20, **priced)
    costs.append(llm.invoke("one").response_metadata["cost_usd"])
    costs.append(asyncio.run(llm.ainvoke("two")).response_metadata["cost_usd"])
    chunks = list(llm.stream("three"))
    costs.append(sum(c.response_metadata.get("cost_usd") or 0.0 for c in chunks))
    copy = llm.model_copy(update={"temperature": 0.5})  # a copy keeps both
    costs.append(copy.invoke("four").response_metadata["cost_usd"])
    HolySheepEmbeddings(model=EMBED, **priced).embed_documents(["five six"])
    # llama-index: chat (sync and async) and embeddings
    llama = HolySheep(model=CHAT, max_tokens=20, **priced)
    costs.append(
        llama.chat([ChatMessage(role="user", content="seven")]).additional_kwargs["cost_usd"]
    )
    reply = asyncio.run(llama.achat([ChatMessage(role="user", content="eight")]))
    costs.append(reply.additional_kwargs["cost_usd"])
    HolySheepEmbedding(model_name=EMBED, **priced).get_text_embedding("nine")
    # the core, sync and async
    with RelayClient(**priced) as client:
        costs.append(
            client.chat(
                model=CHAT, messages=[{"role": "user", "content": "ten"}], max_tokens=20
            ).cost_usd
            or 0.0
        )

    async def core_async() -> float:
        async with AsyncRelayClient(**priced) as client:
            reply = await client.chat(
                model=CHAT, messages=[{"role": "user", "content": "eleven"}], max_tokens=20
            )
            return reply.cost_usd or 0.0

    costs.append(asyncio.run(core_async()))

    calls = emulator.attempts("/chat/completions") + emulator.attempts("/embeddings")
    assert calls == 10
    assert _requests_counted(redis_url) == 10  # every call took its place in one window
    status = shared["budget"].status()
    assert status.reserved_usd == 0
    assert status.spent_usd > sum(costs)  # chats and the embeddings' own input costs
    assert all(cost > 0 for cost in costs)


def test_a_spent_budget_refuses_in_every_adapter_before_sending(
    emulator: Emulator, redis_url: str
) -> None:
    budget = SpendBudget(0.001, period=None, store=redis_url, name="tiny")
    kw: dict[str, Any] = {
        "api_key": TEST_API_KEY,
        "base_url": emulator.base_url,
        "pricing": PRICING,
        "budget": budget,
    }
    with pytest.raises(BudgetExceededError):
        ChatHolySheep(model=CHAT, max_tokens=20, **kw).invoke("hello")
    with pytest.raises(BudgetExceededError):
        HolySheep(model=CHAT, max_tokens=20, **kw).complete("hello")
    with pytest.raises(BudgetExceededError):
        HolySheepEmbeddings(model=EMBED, **kw).embed_query("x" * 2_000)
    with pytest.raises(BudgetExceededError):
        HolySheepEmbedding(model_name=EMBED, **kw).get_text_embedding("x" * 2_000)
    assert emulator.attempts("/chat/completions") + emulator.attempts("/embeddings") == 0
