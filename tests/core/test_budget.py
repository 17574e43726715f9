"""SpendBudget in one process: worst cases reserved before sending, settled to real costs.

Against the emulator (its usage: words + 3 per message, see ``holysheep_relay/testing/_tokens.py``).
The fleet-wide versions (Redis, several processes) are in ``tests/scale/``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import pytest

from holysheep_relay import (
    AsyncRelayClient,
    BudgetExceededError,
    ConfigurationError,
    RateLimiter,
    RelayClient,
    SpendBudget,
)
from holysheep_relay._requests import input_token_bound, output_token_bound
from holysheep_relay.testing import Emulator
from tests.core.helpers import fast_retry_policy
from tests.emulator_fixtures import TEST_API_KEY

# $1 per thousand tokens in and out: costs are easy to read
PRICE = {"input": 1000.0, "output": 1000.0}
MODEL = "gpt-4.1"


def prompt(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def client(emulator: Emulator, budget: SpendBudget, **kw: Any) -> RelayClient:
    return RelayClient(
        TEST_API_KEY,
        emulator.base_url,
        budget=budget,
        pricing={MODEL: PRICE},
        retry_policy=fast_retry_policy(),
        **kw,
    )


def worst_case(messages: list[dict[str, Any]], max_tokens: int) -> float:
    body = {"model": MODEL, "messages": messages, "max_tokens": max_tokens}
    return (input_token_bound(body) + max_tokens) / 1000


# -- the bounds ----------------------------------------------------------------------


def test_input_bound_covers_bytes_messages_tools_and_images() -> None:
    text = "héllo wörld"  # 13 bytes in UTF-8
    base = input_token_bound({"messages": prompt(text)})
    assert base >= len(text.encode()) + 8
    with_tools = input_token_bound({"messages": prompt(text), "tools": [{"type": "function"}]})
    assert with_tools >= base + 600
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 100_000}}
    with_image = input_token_bound({"messages": [{"role": "user", "content": [image]}]})
    assert 3_000 <= with_image < 4_000  # a bounded image, not its base64 bytes
    assert input_token_bound({"input": ["ab", "cde"]}) == 2 + 3 + 2


def test_output_bound() -> None:
    chat: dict[str, Any] = {"messages": prompt("x")}
    assert output_token_bound({**chat, "max_tokens": 50}, 8_000) == 50
    assert output_token_bound({**chat, "max_completion_tokens": 40}, 8_000) == 40
    assert output_token_bound({**chat, "max_tokens": 50, "n": 3}, None) == 150
    assert output_token_bound(chat, 8_000) == 8_000
    assert output_token_bound(chat, None) is None
    assert output_token_bound({"input": ["x"]}, None) == 0


# -- reserve before sending, settle after ----------------------------------------------


def test_settles_to_the_real_cost(emulator: Emulator) -> None:
    budget = SpendBudget(10.0, period=None)
    with client(emulator, budget) as relay:
        reply = relay.chat(model=MODEL, messages=prompt("one two three"), max_tokens=50)
    assert reply.cost_usd == pytest.approx(reply.usage.total_tokens / 1000)
    status = budget.status()
    assert status.spent_usd == pytest.approx(reply.cost_usd)
    assert status.reserved_usd == 0
    assert status.remaining_usd == pytest.approx(10.0 - reply.cost_usd)


def test_refused_before_sending_with_the_amounts(emulator: Emulator) -> None:
    messages = prompt("one two three")
    need = worst_case(messages, 500)
    budget = SpendBudget(need * 0.99, period="day")
    with client(emulator, budget) as relay, pytest.raises(BudgetExceededError) as info:
        relay.chat(model=MODEL, messages=messages, max_tokens=500)
    assert emulator.attempts() == 0  # nothing was sent
    error = info.value
    assert error.needed_usd == pytest.approx(need, abs=1e-9)
    assert error.spent_usd == 0
    assert error.budget_usd == pytest.approx(need * 0.99)
    assert error.period == "day"
    assert error.resets_at is not None
    assert error.resets_at.endswith("T00:00:00Z")
    assert "lower max_tokens" in str(error)
    assert "raise the budget" in str(error)


def test_sequential_calls_are_refused_exactly_when_the_reservation_does_not_fit(
    emulator: Emulator,
) -> None:
    """The cap is not needlessly conservative: with reservation r and real cost c, call k
    is sent iff (k - 1) * c + r <= budget."""
    messages = prompt("alpha beta gamma delta")
    with client(emulator, SpendBudget(100.0)) as probe:
        cost = probe.chat(model=MODEL, messages=messages, max_tokens=40).cost_usd
    assert cost is not None
    reservation = worst_case(messages, 40)
    usd = 1.0
    budget = SpendBudget(usd, period=None)
    sent = refused = 0
    emulator.reset()
    with client(emulator, budget) as relay:
        for _ in range(200):
            try:
                relay.chat(model=MODEL, messages=messages, max_tokens=40)
                sent += 1
            except BudgetExceededError:
                refused += 1
    expected = int((usd - reservation) / cost + 1e-9) + 1
    assert sent == expected
    assert refused == 200 - expected
    assert emulator.attempts() == sent
    assert budget.status().spent_usd == pytest.approx(sent * cost)
    assert budget.status().spent_usd <= usd


def test_unknown_price_is_refused_with_how_to_give_one(emulator: Emulator) -> None:
    budget = SpendBudget(1.0)
    with (
        RelayClient(TEST_API_KEY, emulator.base_url, budget=budget) as relay,
        pytest.raises(ConfigurationError, match=r"pricing=\{'emulator-model'"),
    ):
        relay.chat(model="emulator-model", messages=prompt("hi"), max_tokens=5)
    assert emulator.attempts() == 0
    allowing = SpendBudget(1.0, unknown_price="allow")
    with RelayClient(TEST_API_KEY, emulator.base_url, budget=allowing) as relay:
        assert relay.chat(model="emulator-model", messages=prompt("hi"), max_tokens=5).content
    assert allowing.status().spent_usd == 0  # its cost is unknown: nothing to count


def test_no_output_bound_is_refused_with_what_to_pass(emulator: Emulator) -> None:
    budget = SpendBudget(1.0)
    pricing = {"my-own-model": PRICE}
    emulator.models.append("my-own-model")
    with RelayClient(TEST_API_KEY, emulator.base_url, budget=budget, pricing=pricing) as relay:
        with pytest.raises(ConfigurationError, match="pass max_tokens"):
            relay.chat(model="my-own-model", messages=prompt("hi"))
        assert emulator.attempts() == 0
        emulator.model_limits["my-own-model"] = {"max_output_tokens": 100}
        relay.list_models()  # the relay published a limit: it bounds the worst case
        assert relay.chat(model="my-own-model", messages=prompt("hi")).content
    emulator.models.remove("my-own-model")


def test_catalog_max_output_bounds_a_call_without_max_tokens(emulator: Emulator) -> None:
    budget = SpendBudget(1.0, period=None)
    with client(emulator, budget) as relay, pytest.raises(BudgetExceededError) as info:
        relay.chat(model=MODEL, messages=prompt("hi"))  # GPT-4.1: 32,768 output tokens
    assert info.value.needed_usd > 32.0


def test_an_error_reply_costs_nothing(emulator: Emulator) -> None:
    budget = SpendBudget(1.0, period=None)
    emulator.add_fault("status", status=400)
    with client(emulator, budget) as relay, pytest.raises(Exception, match=r"400|status"):
        relay.chat(model=MODEL, messages=prompt("hi"), max_tokens=10)
    status = budget.status()
    assert status.spent_usd == 0
    assert status.reserved_usd == 0


def test_a_broken_stream_keeps_its_reservation(emulator: Emulator) -> None:
    budget = SpendBudget(1.0, period=None)
    messages = prompt("one two three four five six")
    emulator.add_fault("truncated_stream", after=3)
    with (
        client(emulator, budget) as relay,
        pytest.raises(Exception, match="before it finished"),
        relay.stream_chat(model=MODEL, messages=messages, max_tokens=30) as stream,
    ):
        stream.until_done()
    assert budget.status().spent_usd == pytest.approx(worst_case(messages, 30), abs=1e-9)
    assert budget.status().reserved_usd == 0


def test_streams_and_async_clients_settle_too(emulator: Emulator) -> None:
    budget = SpendBudget(5.0, period=None)
    with (
        client(emulator, budget) as relay,
        relay.stream_chat(model=MODEL, messages=prompt("a b c"), max_tokens=20) as s,
    ):
        streamed = s.until_done()

    async def run() -> float:
        async with AsyncRelayClient(
            TEST_API_KEY, emulator.base_url, budget=budget, pricing={MODEL: PRICE}
        ) as relay:
            reply = await relay.chat(model=MODEL, messages=prompt("d e"), max_tokens=20)
            stream = await relay.stream_chat(model=MODEL, messages=prompt("f"), max_tokens=20)
            async with stream:
                async for _ in stream:
                    pass
            return (reply.cost_usd or 0) + (stream.result.cost_usd or 0)

    total = (streamed.cost_usd or 0) + asyncio.run(run())
    assert total > 0
    assert budget.status().spent_usd == pytest.approx(total)
    assert budget.status().reserved_usd == 0


def test_embeddings_reserve_their_input(emulator: Emulator) -> None:
    model = "text-embedding-3-small"
    budget = SpendBudget(1.0, period=None)
    pricing = {model: {"input": 1000.0, "output": 0.0}}
    with RelayClient(TEST_API_KEY, emulator.base_url, budget=budget, pricing=pricing) as relay:
        result = relay.embed(model=model, input=["one two", "three"])
    assert budget.status().spent_usd == pytest.approx(result.cost_usd)
    tight = SpendBudget(0.001, period=None)  # less than the inputs' bytes at $1 / 1000
    with (
        RelayClient(TEST_API_KEY, emulator.base_url, budget=tight, pricing=pricing) as relay,
        pytest.raises(BudgetExceededError),
    ):
        relay.embed(model=model, input=["one two three four five"])


def test_periods_roll_over_at_utc_midnight(emulator: Emulator) -> None:
    now = [datetime(2026, 12, 1, 23, 59, tzinfo=timezone.utc)]
    messages = prompt("hi")
    # room for one worst case; once its real cost is spent, no second one fits
    budget = SpendBudget(worst_case(messages, 400) + 0.001, period="day", clock=lambda: now[0])
    with client(emulator, budget) as relay:
        relay.chat(model=MODEL, messages=messages, max_tokens=400)
        with pytest.raises(BudgetExceededError) as info:
            relay.chat(model=MODEL, messages=messages, max_tokens=400)
        assert info.value.resets_at == "2026-12-02T00:00:00Z"
        now[0] = datetime(2026, 12, 2, 0, 0, 1, tzinfo=timezone.utc)
        relay.chat(model=MODEL, messages=messages, max_tokens=400)  # a new day
    assert budget.status().period_key == "2026-12-02"
    month = SpendBudget(1.0, period="month", clock=lambda: now[0])
    assert (month.status().period_key, month.status().resets_at) == (
        "2026-12",
        "2027-01-01T00:00:00Z",
    )


def test_budget_and_rate_limiter_together(emulator: Emulator) -> None:
    limiter = RateLimiter(requests_per_minute=100)
    budget = SpendBudget(1.0, period=None)
    with client(emulator, budget, rate_limiter=limiter) as relay:
        relay.chat(model=MODEL, messages=prompt("a b"), max_tokens=10)
    assert budget.status().spent_usd > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"usd": -1}, "non-negative"),
        ({"usd": 1, "period": "week"}, "period"),
        ({"usd": 1, "unknown_price": "maybe"}, "unknown_price"),
        ({"usd": 1, "on_store_error": "retry"}, "on_store_error"),
    ],
)
def test_bad_settings(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        SpendBudget(**kwargs)


def test_budget_must_be_a_spend_budget() -> None:
    from holysheep_relay.provider import Provider

    with pytest.raises(ConfigurationError, match="SpendBudget"):
        Provider(TEST_API_KEY, budget=5.0)  # type: ignore[arg-type]
