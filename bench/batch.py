"""Client cost of ``run_batch()``: CPU per request against a plain AsyncRelayClient loop, and
peak memory of a 10,000-line batch against a 1,000-line one (memory should stay flat).

    python bench/batch.py                 # 10,000 and 1,000 lines at concurrency 64
    python bench/batch.py --lines 2000    # quicker

Each measurement runs in a fresh process (peak RSS only grows) against ``fake_relay.py`` in
its own process: ``batch`` is ``run_batch(input, output, concurrency=64, progress=False)``
on an OpenAI Batch API file; ``loop`` is the plain loop a user would write, 64 tasks over
``AsyncRelayClient.chat()`` with the answers kept in a list. Reported: this process's CPU
(``time.process_time``) per request around the call only, wall time, peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import API_KEY, MESSAGES, MODEL, FakeRelay, base_url, peak_rss_mb

CONCURRENCY = 64


def _write_input(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            body = {"model": MODEL, "max_tokens": 64, "messages": MESSAGES}
            line = {"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions"}
            f.write(json.dumps({**line, "body": body}) + "\n")


async def _loop(url: str, n: int) -> None:
    from holysheep_relay import AsyncRelayClient

    async with AsyncRelayClient(api_key=API_KEY, base_url=url) as client:
        todo = iter(range(n))
        answers: list[Any] = []

        async def worker() -> None:
            for _ in todo:
                reply = await client.chat(model=MODEL, messages=MESSAGES, max_tokens=64)
                answers.append(reply.raw)

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        assert len(answers) == n


def child(mode: str, n: int, port: int) -> dict[str, float]:
    url = base_url(port)
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        _write_input(source, n)
        c0, w0 = time.process_time(), time.perf_counter()
        if mode == "batch":
            from holysheep_relay import AsyncRelayClient, run_batch

            client = AsyncRelayClient(api_key=API_KEY, base_url=url)
            summary = run_batch(
                source, target, concurrency=CONCURRENCY, client=client, progress=False
            )
            assert summary.succeeded == n, summary.report()
        else:
            asyncio.run(_loop(url, n))
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    return {"cpu_us_per_request": cpu / n * 1e6, "wall_s": wall, "peak_rss_mb": peak_rss_mb()}


def _measure(mode: str, n: int, port: int) -> dict[str, float]:
    argv = [sys.executable, __file__, "--child", mode, "--lines", str(n), "--port", str(port)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--child", choices=["batch", "loop"])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.lines, args.port)))
        return
    with FakeRelay() as relay:
        rows = [
            ("loop", args.lines, _measure("loop", args.lines, relay.port)),
            ("batch", args.lines, _measure("batch", args.lines, relay.port)),
            ("batch", args.small, _measure("batch", args.small, relay.port)),
        ]
    print(f"{'what':8} {'lines':>7} {'CPU us/request':>15} {'wall s':>8} {'peak RSS MiB':>13}")
    for mode, n, r in rows:
        print(
            f"{mode:8} {n:>7} {r['cpu_us_per_request']:>15.0f} {r['wall_s']:>8.2f} "
            f"{r['peak_rss_mb']:>13.1f}"
        )


if __name__ == "__main__":
    main()
