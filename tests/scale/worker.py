"""One worker of a fleet, run as its own OS process by the scale-out tests.

``python -m tests.scale.worker --base-url URL --redis URL --tag w1 --count 10 ...`` makes
``count`` chat calls through one entry point (the core's sync or async client, LangChain's
``ChatHolySheep`` or LlamaIndex's ``HolySheep``) sharing a ``RedisRateLimiter`` and/or a
``SpendBudget`` on Redis with every other worker, and prints one JSON line per call:
``{"tag", "i", "prompt", "outcome", "cost", "tokens", "at"}``, where ``outcome`` is ``ok``
or the error's class name (first a ``{"ready": tag}`` line; it then waits for a line on
stdin, so that every worker starts at once). Every prompt is unique (tag and index), so
the test can match the relay's arrivals to the calls that made them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from holysheep_relay import (
    AsyncRelayClient,
    RedisRateLimiter,
    RelayClient,
    RelayError,
    SpendBudget,
)

API_KEY = "hs_fake_test_key_0123456789abcdef"
PRICE = {"input": 1000.0, "output": 1000.0}  # $1 per thousand tokens


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--model", default="gpt-4.1")
    parser.add_argument("--client", choices=["sync", "async", "langchain", "llama"], default="sync")
    parser.add_argument("--name", default="fleet")
    parser.add_argument("--rpm", type=float)
    parser.add_argument("--tpm", type=float)
    parser.add_argument("--limiter-policy", choices=["open", "closed"], default="open")
    parser.add_argument("--budget", type=float)
    parser.add_argument("--budget-policy", choices=["open", "closed"], default="closed")
    parser.add_argument("--max-tokens", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between calls")
    return parser.parse_args(argv)


def _shared(args: argparse.Namespace) -> dict[str, Any]:
    shared: dict[str, Any] = {}
    if args.rpm or args.tpm:
        shared["rate_limiter"] = RedisRateLimiter(
            args.redis,
            requests_per_minute=args.rpm,
            tokens_per_minute=args.tpm,
            name=args.name,
            on_store_error=args.limiter_policy,
        )
    if args.budget is not None:
        shared["budget"] = SpendBudget(
            args.budget,
            period=None,
            store=args.redis,
            name=args.name,
            on_store_error=args.budget_policy,
        )
    return shared


def _caller(args: argparse.Namespace, shared: dict[str, Any]) -> Any:
    """A function prompt -> (cost, total tokens), or a coroutine function for async."""
    common = {"api_key": API_KEY, "base_url": args.base_url, "pricing": {args.model: PRICE}}
    if args.client == "sync":
        client = RelayClient(**common, **shared)

        def sync_call(prompt: str) -> tuple[float | None, int]:
            reply = client.chat(
                model=args.model,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=args.max_tokens,
            )
            return reply.cost_usd, reply.usage.total_tokens if reply.usage else 0

        return sync_call
    if args.client == "async":
        aclient = AsyncRelayClient(**common, **shared)

        async def async_call(prompt: str) -> tuple[float | None, int]:
            stream = await aclient.stream_chat(
                model=args.model,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=args.max_tokens,
            )
            async with stream:
                async for _ in stream:
                    pass
            usage = stream.result.usage
            return stream.result.cost_usd, usage.total_tokens if usage else 0

        return async_call
    if args.client == "langchain":
        from langchain_holysheep import ChatHolySheep

        llm = ChatHolySheep(model=args.model, max_tokens=args.max_tokens, **common, **shared)

        def langchain_call(prompt: str) -> tuple[float | None, int]:
            message = llm.invoke(prompt)
            usage = message.usage_metadata or {}
            tokens = int(usage.get("total_tokens", 0))
            return tokens * PRICE["output"] / 1e6, tokens

        return langchain_call
    from llama_index.core.llms import ChatMessage

    from llama_index_holysheep import HolySheep

    llama = HolySheep(model=args.model, max_tokens=args.max_tokens, **common, **shared)

    async def llama_call(prompt: str) -> tuple[float | None, int]:
        response = await llama.achat([ChatMessage(role="user", content=prompt)])
        usage = response.raw.get("usage") if isinstance(response.raw, dict) else None
        tokens = int(usage["total_tokens"]) if usage else 0
        return tokens * PRICE["output"] / 1e6, tokens

    return llama_call


def _emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


async def _run(args: argparse.Namespace) -> None:
    call = _caller(args, _shared(args))
    _emit({"ready": args.tag})  # imports done: wait for the fleet's "go" on stdin
    sys.stdin.readline()
    for i in range(args.count):
        prompt = f"{args.tag} call {i} please answer"
        record: dict[str, Any] = {"tag": args.tag, "i": i, "prompt": prompt}
        try:
            result = call(prompt)
            if asyncio.iscoroutine(result):
                result = await result
            record.update(outcome="ok", cost=result[0], tokens=result[1])
        except RelayError as error:
            record.update(outcome=type(error).__name__, message=str(error))
        record["at"] = time.time()
        _emit(record)
        if args.pause:
            await asyncio.sleep(args.pause)


def main(argv: list[str] | None = None) -> int:
    asyncio.run(_run(_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
