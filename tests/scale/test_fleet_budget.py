"""Several OS processes share one SpendBudget on Redis: the sum of real costs never exceeds
it, and the refusals are what the reservations imply (the cap is not needlessly tight).
Then every entry point (sync and async core clients, LangChain, LlamaIndex) in processes of
their own, through one shared RedisRateLimiter and SpendBudget."""

from __future__ import annotations

import pytest

from holysheep_relay import SpendBudget
from holysheep_relay._requests import input_token_bound
from holysheep_relay.testing import Emulator
from tests.scale.fleet import arrivals, run_fleet
from tests.windows import max_in_window

WORKERS, CALLS, MAX_TOKENS = 4, 40, 40
BUDGET = 2.0  # USD; the workers price every token at $0.001


def _worst_case(prompt: str) -> float:
    body = {"messages": [{"role": "user", "content": prompt}], "max_tokens": MAX_TOKENS}
    return (input_token_bound(body) + MAX_TOKENS) / 1000


def test_concurrent_workers_never_overspend(emulator: Emulator, redis_url: str) -> None:
    workers = [
        {"tag": f"b{n}", "count": CALLS, "budget": BUDGET, "max_tokens": MAX_TOKENS}
        for n in range(WORKERS)
    ]
    calls = run_fleet(emulator.base_url, redis_url, workers)
    ok = [c for c in calls if c.outcome == "ok"]
    refused = [c for c in calls if c.outcome != "ok"]
    assert {c.outcome for c in refused} <= {"BudgetExceededError"}
    assert refused, "the budget never ran out: the test proves nothing"

    real = sum(c.cost or 0.0 for c in ok)
    assert real <= BUDGET  # never overspent
    # refused calls were never sent; every sent call arrived exactly once
    sent = arrivals(emulator, "b")
    assert sorted(sent) == sorted(c.prompt for c in ok)
    assert all(len(times) == 1 for times in sent.values())
    # the shared ledger agrees with the real costs (each rounded up to a nano-dollar)
    status = SpendBudget(BUDGET, period=None, store=redis_url, name="fleet").status()
    assert status.spent_usd == pytest.approx(real, abs=1e-6 * len(ok))
    assert status.reserved_usd == 0
    # Not needlessly conservative: a call is refused only when the settled costs plus the
    # reservations in flight (at most one per other worker) plus its own worst case exceed
    # the budget, so by the first refusal at least BUDGET - WORKERS * worst case was spent.
    worst = max(_worst_case(c.prompt) for c in calls)
    assert real >= BUDGET - WORKERS * worst
    print(
        f"\nfleet budget: ${BUDGET:.2f} shared by {WORKERS} processes x {CALLS} calls "
        f"(worst case ${worst:.3f}, real ~${real / len(ok):.3f} each): {len(ok)} sent, "
        f"{len(refused)} refused, real spend ${real:.4f} ({real / BUDGET:.1%} of the budget)"
    )


def test_every_entry_point_shares_one_limiter_and_budget(
    emulator: Emulator, redis_url: str
) -> None:
    kinds = ["sync", "async", "langchain", "llama"]
    workers = [
        # a pause between calls, so that no entry point spends the budget before the
        # others' first call
        {"tag": f"e-{kind}", "client": kind, "count": 8, "rpm": 1000, "budget": 0.3, "pause": 0.1}
        for kind in kinds
    ]
    calls = run_fleet(emulator.base_url, redis_url, workers)
    by_kind = {kind: [c for c in calls if c.tag == f"e-{kind}"] for kind in kinds}
    assert all(len(kind_calls) == 8 for kind_calls in by_kind.values())
    ok = [c for c in calls if c.outcome == "ok"]
    assert {c.outcome for c in calls} <= {"ok", "BudgetExceededError"}
    assert {c.tag for c in ok} == {f"e-{kind}" for kind in kinds}  # each one was admitted
    assert len(ok) < len(calls)  # and the one budget stopped them all
    real = sum(c.cost or 0.0 for c in ok)
    assert real <= 0.3
    status = SpendBudget(0.3, period=None, store=redis_url, name="fleet").status()
    assert status.spent_usd == pytest.approx(real, abs=1e-5)
    # the one limiter saw every request that was sent
    sent = arrivals(emulator, "e-")
    assert sorted(sent) == sorted(c.prompt for c in ok)
    assert max_in_window([(t[0], 1.0) for t in sent.values()]) <= 1000
