"""Two worker processes, one spend budget and one rate limit, shared through Redis.

REDIS_URL=redis://127.0.0.1:6379/0 HOLYSHEEP_API_KEY=hs_... python docs/snippets/many_workers.py

Each worker sends up to 20 prompts; together they may spend $0.002 today (GPT-4.1 prices,
UTC day) and start at most 60 requests in any minute. Start more workers, on more machines:
they all share the same budget and window through the same Redis and name.
"""

from __future__ import annotations

import multiprocessing
import os

from holysheep_relay import BudgetExceededError, RedisRateLimiter, RelayClient, SpendBudget

REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
BUDGET_USD = 0.002


def shared_budget() -> SpendBudget:
    return SpendBudget(BUDGET_USD, period="day", store=REDIS, name="demo")


def worker(name: str) -> None:
    limiter = RedisRateLimiter(REDIS, requests_per_minute=60, name="demo")
    sent = refused = 0
    with RelayClient(budget=shared_budget(), rate_limiter=limiter) as client:
        for i in range(20):
            try:
                client.chat(
                    model="gpt-4.1",
                    messages=[{"role": "user", "content": f"{name}: say hi, #{i}"}],
                    max_tokens=50,  # bounds each call's worst case: the budget reserves it
                )
                sent += 1
            except BudgetExceededError:
                refused += 1  # refused before sending: the budget could not cover it
    print(f"{name}: {sent} sent, {refused} refused")


def main() -> None:
    spawn = multiprocessing.get_context("spawn")  # separate processes, as on two machines
    workers = [spawn.Process(target=worker, args=(f"worker-{n}",)) for n in (1, 2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join()
    status = shared_budget().status()
    print(
        f"spent ${status.spent_usd:.6f} of ${status.budget_usd} on {status.period_key} "
        f"(resets {status.resets_at})"
    )


if __name__ == "__main__":
    main()
