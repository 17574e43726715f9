"""The scenarios ``clients.py`` runs for one client in a fresh process.

Scenarios: request, tool, stream, astream, trickle, burst, memory (see ``Runner``). Per-call
costs are this process's CPU time (``time.process_time``: all threads, user + system)
around the measured loop only, after a warm-up that also checks the answers are right.
Without ``--port`` a fake relay is started for the run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from common import (
    TEXT_REPLY,
    TEXT_TOTAL_TOKENS,
    TOOL_ARGS,
    TOOL_NAME,
    TOOL_TOTAL_TOKENS,
    FakeRelay,
    median,
    peak_rss_mb,
    relay_stats,
    rss_mb,
    stream_text,
    stream_total_tokens,
)
from drivers import SPECS, make_driver

STREAM_CHUNKS = 2000
TRICKLE_CHUNKS = 200
MEMORY_CHUNKS = 20


@dataclass(frozen=True)
class Sizes:
    warmup: int  # requests before measuring
    rounds: int  # measured repeats (median taken)
    per_round: int  # requests per repeat
    stream_rounds: int
    burst_total: int
    burst_concurrency: int
    bursts: int
    memory_streams: int


QUICK = Sizes(10, 3, 50, 3, 500, 100, 1, 300)
FULL = Sizes(30, 7, 200, 7, 1000, 100, 3, 10_000)


class Profiler:
    """pyinstrument around the measured loop when ``--profile`` is given (else a no-op)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.profiler: Any = None
        if path:
            try:
                from pyinstrument import Profiler as _P
            except ImportError:
                sys.exit("--profile needs pyinstrument: pip install pyinstrument")
            self.profiler = _P(interval=0.0002, async_mode="enabled")

    def __enter__(self) -> None:
        if self.profiler is not None:
            self.profiler.start()

    def __exit__(self, *exc: object) -> None:
        if self.profiler is not None:
            self.profiler.stop()

    def write(self) -> None:
        if self.profiler is None or self.path is None:
            return
        if self.path.endswith(".html"):
            text = self.profiler.output_html()
        else:
            text = self.profiler.output_text(unicode=False, color=False, show_all=False)
        with open(self.path, "w") as f:
            f.write(text)


def _check(what: str, got: Any, want: Any) -> None:
    if got != want:
        shown = repr(got)[:200]
        raise SystemExit(f"{what}: wrong answer {shown} (expected {repr(want)[:200]})")


def _check_usage(what: str, total: Any, want: int) -> None:
    if total is not None:  # some adapters do not expose usage everywhere; text is checked
        _check(f"{what} usage", total, want)


# The measured loops are module functions with distinctive names: profile.py keeps only the
# samples taken inside them.
def _measured_loop(fn: Callable[[], Any], n: int) -> float:
    c0 = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - c0) / n


async def _measured_aloop(fn: Callable[[], Awaitable[Any]], n: int) -> float:
    c0 = time.process_time()
    for _ in range(n):
        await fn()
    return (time.process_time() - c0) / n


async def _measured_worker(driver: Any, pending: Iterator[int]) -> None:
    for _ in pending:
        await driver.arequest()


class Runner:
    def __init__(self, key: str, port: int, sizes: Sizes, profiler: Profiler) -> None:
        self.key = key
        self.port = port
        self.sizes = sizes
        self.profiler = profiler
        self.network = SPECS[key].network
        self.loop = asyncio.new_event_loop()

    def connections(self) -> int:
        return relay_stats(self.port)["connections"] if self.network else 0

    def _rounds(self, fn: Callable[[], Any], n: int, rounds: int) -> list[float]:
        """CPU seconds per call, one value per round."""
        out = []
        for _ in range(rounds):
            gc.collect()
            with self.profiler:
                out.append(_measured_loop(fn, n))
        return out

    def _arounds(self, fn: Callable[[], Awaitable[Any]], n: int, rounds: int) -> list[float]:
        out = []
        for _ in range(rounds):
            gc.collect()
            with self.profiler:
                out.append(self.loop.run_until_complete(_measured_aloop(fn, n)))
        return out

    @staticmethod
    def _summary(values: list[float], unit: float = 1e6) -> dict[str, Any]:
        return {"median": median(values) * unit, "values": [v * unit for v in values]}

    # -- scenarios ---------------------------------------------------------------------

    def request(self) -> dict[str, Any]:
        d = make_driver(self.key, self.port, None)
        text, total = d.request()
        _check("request", text, TEXT_REPLY)
        _check_usage("request", total, TEXT_TOTAL_TOKENS)
        for _ in range(self.sizes.warmup):
            d.request()
        s = self.sizes
        c0 = self.connections()
        res = self._summary(self._rounds(d.request, s.per_round, s.rounds))
        res["connections"] = self.connections() - c0
        res["unit"] = "us CPU per request"
        return res

    def tool(self) -> dict[str, Any]:
        d = make_driver(self.key, self.port, None)
        call, total = d.tool()
        _check("tool", call, (TOOL_NAME, TOOL_ARGS))
        _check_usage("tool", total, TOOL_TOTAL_TOKENS)
        for _ in range(self.sizes.warmup):
            d.tool()
        s = self.sizes
        res = self._summary(self._rounds(d.tool, s.per_round, s.rounds))
        res["unit"] = "us CPU per tool-call request"
        return res

    def stream(self) -> dict[str, Any]:
        d = make_driver(self.key, self.port, STREAM_CHUNKS)
        text, total = d.stream()
        _check("stream", text, stream_text(STREAM_CHUNKS))
        _check_usage("stream", total, stream_total_tokens(STREAM_CHUNKS))
        c0 = self.connections()
        per_stream = self._rounds(d.stream, 1, self.sizes.stream_rounds)
        res = self._summary([v / STREAM_CHUNKS for v in per_stream])
        res["per_stream_ms"] = median(per_stream) * 1e3
        res["connections"] = self.connections() - c0
        res["unit"] = "us CPU per chunk"
        return res

    def trickle(self) -> dict[str, Any]:
        """Sync streams whose events arrive 1 ms apart: one event per read, as in real life."""
        d = make_driver(self.key, self.port, TRICKLE_CHUNKS, trickle=True)
        text, _ = d.stream()
        _check("trickle", text, stream_text(TRICKLE_CHUNKS))
        per_stream = self._rounds(d.stream, 1, self.sizes.stream_rounds)
        res = self._summary([v / TRICKLE_CHUNKS for v in per_stream])
        res["unit"] = "us CPU per chunk (one event per read)"
        return res

    def astream(self) -> dict[str, Any]:
        d = make_driver(self.key, self.port, STREAM_CHUNKS)
        text, total = self.loop.run_until_complete(d.astream())
        _check("astream", text, stream_text(STREAM_CHUNKS))
        _check_usage("astream", total, stream_total_tokens(STREAM_CHUNKS))
        c0 = self.connections()
        per_stream = self._arounds(d.astream, 1, self.sizes.stream_rounds)
        res = self._summary([v / STREAM_CHUNKS for v in per_stream])
        res["per_stream_ms"] = median(per_stream) * 1e3
        res["connections"] = self.connections() - c0
        res["unit"] = "us CPU per chunk"
        return res

    def burst(self) -> dict[str, Any]:
        s = self.sizes
        c_start = self.connections()
        d = make_driver(self.key, self.port, None)

        async def warm() -> None:
            text, total = await d.arequest()
            _check("arequest", text, TEXT_REPLY)
            _check_usage("arequest", total, TEXT_TOTAL_TOKENS)

        async def one_burst() -> tuple[float, float]:
            pending = iter(range(s.burst_total))

            c0, w0 = time.process_time(), time.perf_counter()
            workers = (_measured_worker(d, pending) for _ in range(s.burst_concurrency))
            await asyncio.gather(*workers)
            return time.process_time() - c0, time.perf_counter() - w0

        self.loop.run_until_complete(warm())
        cpus, walls, conns = [], [], []
        for _ in range(s.bursts):
            gc.collect()
            c0 = self.connections()
            with self.profiler:
                cpu_s, wall_s = self.loop.run_until_complete(one_burst())
            conns.append(self.connections() - c0)
            cpus.append(cpu_s / s.burst_total)
            walls.append(wall_s)
        res = self._summary(cpus)
        res["unit"] = "us CPU per request in the burst"
        res["wall_s"] = median(walls)
        res["wall_values"] = walls
        res["connections_per_burst"] = conns
        res["connections"] = self.connections() - c_start  # including the warm-up request
        res["requests"] = s.burst_total
        res["concurrency"] = s.burst_concurrency
        return res

    def memory(self) -> dict[str, Any]:
        d = make_driver(self.key, self.port, MEMORY_CHUNKS)
        total_streams = self.sizes.memory_streams
        expected = stream_text(MEMORY_CHUNKS)
        _check("memory stream", d.stream()[0], expected)
        marks = {total_streams // 10, total_streams // 2, total_streams}
        samples: dict[int, float] = {}
        c0 = self.connections()
        cpu0 = time.process_time()
        for i in range(1, total_streams + 1):
            d.stream()
            if i in marks:
                gc.collect()
                samples[i] = rss_mb()
        cpu = time.process_time() - cpu0
        first, last = samples[total_streams // 10], samples[total_streams]
        return {
            "streams": total_streams,
            "chunks_per_stream": MEMORY_CHUNKS,
            "rss_mb": {str(k): v for k, v in sorted(samples.items())},
            "growth_mb": last - first,
            "from_stream": total_streams // 10,
            "cpu_per_stream_us": cpu / total_streams * 1e6,
            "connections": self.connections() - c0,
        }


SCENARIOS = ("request", "tool", "stream", "astream", "trickle", "burst", "memory")


def run(
    key: str,
    scenarios: list[str],
    port: int,
    sizes: Sizes,
    profile: str | None,
    timing: dict[str, float],
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "client": key,
        "import_cpu_s": timing["cpu"],
        "import_wall_s": timing["wall"],
        "rss_after_import_mb": timing["rss_mb"],
        "scenarios": {},
    }
    profiler = Profiler(profile)
    runner = Runner(key, port, sizes, profiler)
    for name in scenarios:
        out["scenarios"][name] = getattr(runner, name)()
    runner.loop.close()
    out["rss_end_mb"] = rss_mb()
    out["peak_rss_mb"] = peak_rss_mb()
    profiler.write()
    return out


def main(timing: dict[str, float] | None, argv: list[str] | None = None) -> None:
    """Called by ``clients.py`` after it has imported (and timed) the client's package."""
    parser = argparse.ArgumentParser(
        prog="clients.py", description="Run benchmark scenarios for one client."
    )
    parser.add_argument("client", choices=list(SPECS))
    parser.add_argument("scenarios", help=f"comma-separated: {', '.join(SCENARIOS)} or 'all'")
    parser.add_argument("--port", type=int, help="a running fake relay (default: start one)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--profile", metavar="PATH", help="pyinstrument report (.txt/.html)")
    parser.add_argument("--scale", type=int, default=1, help="multiply the measured repeats")
    args = parser.parse_args(argv)
    scenarios = list(SCENARIOS) if args.scenarios == "all" else args.scenarios.split(",")
    for name in scenarios:
        if name not in SCENARIOS:
            parser.error(f"unknown scenario {name!r}")
    sizes = QUICK if args.quick else FULL
    if args.scale > 1:
        sizes = replace(
            sizes,
            rounds=sizes.rounds * args.scale,
            stream_rounds=sizes.stream_rounds * args.scale,
            bursts=sizes.bursts * args.scale,
        )
    assert timing is not None  # argparse accepted the client, so clients.py timed it
    timing = {**timing, "rss_mb": rss_mb()}
    if args.port:
        result = run(args.client, scenarios, args.port, sizes, args.profile, timing)
    else:
        with FakeRelay(max_lifetime=3600) as relay:
            result = run(args.client, scenarios, relay.port, sizes, args.profile, timing)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown (seconds for the big frameworks)
