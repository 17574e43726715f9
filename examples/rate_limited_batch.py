"""A rate-limited batch with abatch: many prompts, concurrent, under a requests-per-minute cap.

python examples/rate_limited_batch.py
"""

from __future__ import annotations

import asyncio
import time

from _relay import relay


async def run() -> None:
    from langchain_holysheep import ChatHolySheep

    # at most 600 requests started in any 60 s window; models with the same key and limits
    # share one budget (RedisRateLimiter shares it across processes).
    llm = ChatHolySheep(
        model="gemini-2.5-flash", requests_per_minute=600, tokens_per_minute=200_000
    )
    words = [f"item{i}" for i in range(12)]
    prompts = [f"Reply with exactly this word and nothing else: {w}" for w in words]
    started = time.perf_counter()
    replies = await llm.abatch(prompts, config={"max_concurrency": 4})
    elapsed = time.perf_counter() - started
    for word, reply in zip(words, replies, strict=True):
        assert word in str(reply.content), "a reply went to the wrong prompt"
    tokens = sum(r.usage_metadata["total_tokens"] for r in replies if r.usage_metadata)
    print(f"  {len(replies)} replies in {elapsed:.2f}s, {tokens} tokens, order preserved")


def main() -> None:
    with relay("rate_limited_batch"):
        asyncio.run(run())


if __name__ == "__main__":
    main()
