"""Client cost of the admission layer: rate limiters and spend budgets, per request.

    python bench/limits.py --quick                 # about a minute
    python bench/limits.py                         # more rounds (about 4 minutes)
    python bench/limits.py --quick --mode processes --json /tmp/limits.json
    python bench/limits.py --quick --configs redis_limiter --cprofile redis_limiter/sync

``RelayClient`` and ``AsyncRelayClient`` call ``chat()`` (non-streamed, ``max_tokens`` 64,
the same pricing table) against the fake relay with: no limiter; an in-memory
``RateLimiter``; a ``RedisRateLimiter``; an in-memory ``SpendBudget``; a ``SpendBudget`` on
Redis; the Redis limiter and the Redis budget together. Limits are so high that no call
ever waits or is refused, so what is measured is the bookkeeping (and, for Redis, the round
trips). A real ``redis-server`` (``tests/redis_server.py``) and the fake relay each run in
their own process.

Per configuration and client: this process's CPU (``time.process_time``) and wall time per
request around the measured loop only, after a warm-up that checks the answers (and, at the
end, that every budget settled every call); medians of rounds; ratios to the no-limiter row
of the same run. The redis-server's own CPU is in another process and not in the client
figure: it is reported next to it (the server's ``INFO cpu``, i.e. its getrusage, over the
same loops), with the scripts it ran per request (``INFO commandstats``: EVALSHA calls, one
round trip each).

``--mode rounds`` (the default): one worker process holds all twelve clients and runs them
in rounds, rotating the order each round, so load drift on a shared machine hits every
configuration alike. ``--mode processes``: a fresh process per configuration (its sync and
async client), three passes alternating the order, as ``run.py`` does. ``--pin`` puts the
worker on one CPU and the relay and redis-server on the others (off by default: on a shared
machine it was no steadier, and cross-CPU wake-ups made every Redis round trip dearer).
``--cprofile CONFIG/CLIENT`` writes a cProfile (CPU-time) report of one client's loops.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from common import API_KEY, BENCH_DIR, MESSAGES, MODEL, TEXT_REPLY, TEXT_TOTAL_TOKENS, median

ROOT = BENCH_DIR.parent
CONFIGS: dict[str, str] = {
    "none": "no limiter",
    "memory_limiter": "RateLimiter (memory)",
    "redis_limiter": "RedisRateLimiter",
    "memory_budget": "SpendBudget (memory)",
    "redis_budget": "SpendBudget (Redis)",
    "redis_both": "RedisRateLimiter + SpendBudget (Redis)",
}
CLIENTS = ("sync", "async")
PRICING = {MODEL: {"input": 2.0, "output": 8.0}}
MAX_TOKENS = 64  # bounds the budget's worst case; sent by every configuration
RPM, TPM, USD = 10**9, 10**12, 10**9  # so high that nothing ever waits or is refused
FIELDS = ("cpu", "sys", "wall", "redis_cpu", "redis_calls")  # per request, one value a round


@dataclass(frozen=True)
class Sizes:
    warmup: int  # requests per client before measuring
    rounds: int  # measured repeats per client (median taken)
    per_round: int  # requests per repeat


QUICK = Sizes(warmup=30, rounds=9, per_round=300)
FULL = Sizes(warmup=100, rounds=21, per_round=600)


def _log(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


# --- the worker: clients, measured loops ---------------------------------------------------


class RedisProbe:
    """The redis-server's CPU seconds (user + sys, its getrusage) and script calls so far."""

    def __init__(self, url: str | None) -> None:
        self.client: Any = None
        if url:
            import redis

            self.client = redis.Redis.from_url(url)

    def read(self) -> tuple[float, int]:
        if self.client is None:
            return 0.0, 0
        cpu = self.client.info("cpu")
        stats = self.client.info("commandstats")
        calls = sum(stats.get(f"cmdstat_{c}", {}).get("calls", 0) for c in ("evalsha", "eval"))
        return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]), int(calls)


@dataclass
class Cell:
    config: str
    client_kind: str
    client: Any
    limiter: Any
    budget: Any

    @property
    def key(self) -> str:
        return f"{self.config}/{self.client_kind}"


def make_cell(config: str, kind: str, relay_url: str, redis_url: str, tag: str) -> Cell:
    import holysheep_relay as hr

    name = f"bench-{tag}-{config}-{kind}"  # each client its own keys in Redis
    limiter: Any = None
    budget: Any = None
    if config == "memory_limiter":
        limiter = hr.RateLimiter(requests_per_minute=RPM, tokens_per_minute=TPM)
    elif config in ("redis_limiter", "redis_both"):
        limiter = hr.RedisRateLimiter(
            redis_url, requests_per_minute=RPM, tokens_per_minute=TPM, name=name
        )
    if config == "memory_budget":
        budget = hr.SpendBudget(USD, period="day")
    elif config in ("redis_budget", "redis_both"):
        budget = hr.SpendBudget(USD, period="day", store=redis_url, name=name)
    cls = hr.RelayClient if kind == "sync" else hr.AsyncRelayClient
    client = cls(
        api_key=API_KEY, base_url=relay_url, rate_limiter=limiter, budget=budget, pricing=PRICING
    )
    return Cell(config, kind, client, limiter, budget)


# Module functions with distinctive names (like scenarios.py): easy to find in a profile.
def _measured_loop(client: Any, n: int) -> tuple[float, float]:
    chat = client.chat
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        chat(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS)
    return time.process_time() - c0, time.perf_counter() - w0


async def _measured_aloop(client: Any, n: int) -> tuple[float, float]:
    chat = client.chat
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        await chat(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS)
    return time.process_time() - c0, time.perf_counter() - w0


def _check(cell: Cell, reply: Any) -> None:
    got = (reply.content, reply.usage.total_tokens if reply.usage else None)
    if got != (TEXT_REPLY, TEXT_TOTAL_TOKENS) or reply.cost_usd is None:
        raise SystemExit(f"{cell.key}: wrong answer {got!r}, cost {reply.cost_usd!r}")


class Worker:
    def __init__(self, cells: list[Cell], probe: RedisProbe) -> None:
        self.cells = cells
        self.probe = probe
        self.loop = asyncio.new_event_loop()
        self.calls = dict.fromkeys((c.key for c in cells), 0)

    def run(self, cell: Cell, n: int) -> tuple[float, float, float]:
        """(CPU, wall, the kernel's part of the CPU) in seconds for ``n`` requests."""
        self.calls[cell.key] += n
        sys0 = resource.getrusage(resource.RUSAGE_SELF).ru_stime
        if cell.client_kind == "sync":
            cpu, wall = _measured_loop(cell.client, n)
        else:
            cpu, wall = self.loop.run_until_complete(_measured_aloop(cell.client, n))
        return cpu, wall, resource.getrusage(resource.RUSAGE_SELF).ru_stime - sys0

    def warm(self, cell: Cell, n: int) -> None:
        if cell.client_kind == "sync":
            reply = cell.client.chat(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS)
        else:
            coro = cell.client.chat(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS)
            reply = self.loop.run_until_complete(coro)
        self.calls[cell.key] += 1
        _check(cell, reply)
        self.run(cell, n)

    def measure(self, sizes: Sizes, profile: Callable[[Cell], Any] | None) -> dict[str, Any]:
        for cell in self.cells:
            self.warm(cell, sizes.warmup)
        out: dict[str, Any] = {c.key: {field: [] for field in FIELDS} for c in self.cells}
        k = len(self.cells)
        for r in range(sizes.rounds):
            order = self.cells[r % k :] + self.cells[: r % k]  # rotate: no fixed position
            for cell in order if r % 2 == 0 else order[::-1]:
                gc.collect()
                rc0, calls0 = self.probe.read()
                if profile is not None:
                    with profile(cell):
                        cpu, wall, kernel = self.run(cell, sizes.per_round)
                else:
                    cpu, wall, kernel = self.run(cell, sizes.per_round)
                rc1, calls1 = self.probe.read()
                rec = out[cell.key]
                rec["cpu"].append(cpu / sizes.per_round)
                rec["sys"].append(kernel / sizes.per_round)
                rec["wall"].append(wall / sizes.per_round)
                rec["redis_cpu"].append((rc1 - rc0) / sizes.per_round)
                rec["redis_calls"].append((calls1 - calls0) / sizes.per_round)
        for cell in self.cells:
            out[cell.key]["budget"] = self.check_budget(cell)
        return out

    def check_budget(self, cell: Cell) -> dict[str, float] | None:
        """Every call was counted and settled: spent = calls x cost, nothing left reserved."""
        if cell.budget is None:
            return None
        status = cell.budget.status()
        if status.reserved_usd != 0 or status.spent_usd <= 0:
            raise SystemExit(f"{cell.key}: budget not settled: {status}")
        return {
            "spent_usd": status.spent_usd,
            "calls": self.calls[cell.key],
            "usd_per_call": status.spent_usd / self.calls[cell.key],
        }


class CProfile:
    """cProfile (CPU time) around one cell's measured loops (``--cprofile CONFIG/CLIENT``)."""

    def __init__(self, key: str, path: str) -> None:
        saved = sys.path[:]  # bench/profile.py would shadow the stdlib's, which cProfile uses
        sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
        try:
            import cProfile
        finally:
            sys.path[:] = saved

        self.key = key
        self.path = path
        self.profiler = cProfile.Profile(time.process_time)  # CPU, not wall: cores are shared

    def __call__(self, cell: Cell) -> Any:
        from contextlib import nullcontext

        return self.profiler if cell.key == self.key else nullcontext()

    def write(self) -> None:
        import io
        import pstats

        buf = io.StringIO()
        stats = pstats.Stats(self.profiler, stream=buf).sort_stats("tottime")
        stats.print_stats(40)
        stats.sort_stats("cumulative").print_stats(40)
        Path(self.path).write_text(buf.getvalue())


def worker_main(args: argparse.Namespace) -> None:
    sizes = Sizes(args.warmup, args.rounds, args.per_round)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    relay_url = f"http://127.0.0.1:{args.port}/v1"
    tag = str(os.getpid())
    cells = [
        make_cell(config, kind, relay_url, args.redis, tag)
        for config in args.configs.split(",")
        for kind in CLIENTS
    ]
    profile = CProfile(args.cprofile, args.cprofile_out) if args.cprofile else None
    result = Worker(cells, RedisProbe(args.redis)).measure(sizes, profile)
    if profile is not None:
        profile.write()
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown


# --- the parent: servers, worker processes, summary ----------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("HOLYSHEEP_API_KEY", "HOLYSHEEP_BASE_URL"):
        env.pop(name, None)
    env["PYTHONHASHSEED"] = "0"
    return env


def pin(pid: int, cpus: set[int]) -> None:
    """Put every thread of process ``pid`` on ``cpus``."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), cpus)


def plan_cpus(enabled: bool) -> tuple[int | None, set[int]]:
    """(the worker's CPU, the servers' CPUs): apart when there are two or more CPUs."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not enabled or len(cpus) < 2 or not os.path.isdir("/proc/self/task"):
        return None, set()
    return cpus[0], set(cpus[1:])


def run_worker(
    configs: list[str], port: int, redis_url: str, sizes: Sizes, extra: list[str]
) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--port", str(port)]
    cmd += ["--redis", redis_url, "--configs", ",".join(configs)]
    cmd += ["--warmup", str(sizes.warmup), "--rounds", str(sizes.rounds)]
    cmd += ["--per-round", str(sizes.per_round), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), check=False)
    if proc.returncode != 0:
        raise SystemExit(f"worker {','.join(configs)} failed:\n{proc.stderr[-3000:]}")
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def merge(into: dict[str, Any], data: dict[str, Any]) -> None:
    for key, rec in data.items():
        old = into.setdefault(key, {field: [] for field in FIELDS})
        for field in FIELDS:
            old[field] += rec[field]
        if rec.get("budget"):
            old.setdefault("budget", []).append(rec["budget"])


def _paired(values: list[float], base: list[float]) -> float:
    """The median over rounds of a value / the no-limiter value of the same round."""
    return median([v / b for v, b in zip(values, base, strict=True)])


def summarize(raw: dict[str, Any], mode: str) -> list[dict[str, Any]]:
    rows = []
    for kind in CLIENTS:
        base = raw[f"none/{kind}"]
        base_cpu, base_wall = median(base["cpu"]), median(base["wall"])
        for config, label in CONFIGS.items():
            rec = raw.get(f"{config}/{kind}")
            if rec is None:
                continue
            cpu, wall = median(rec["cpu"]), median(rec["wall"])
            rows.append(
                {
                    "config": config,
                    "label": label,
                    "client": kind,
                    "cpu_us": cpu * 1e6,
                    "cpu_ratio": cpu / base_cpu,
                    "cpu_best_ratio": min(rec["cpu"]) / min(base["cpu"]),
                    "cpu_paired_ratio": _paired(rec["cpu"], base["cpu"])
                    if mode == "rounds"
                    else None,
                    "cpu_added_us": (cpu - base_cpu) * 1e6,
                    "sys_us": median(rec["sys"]) * 1e6,
                    "wall_us": wall * 1e6,
                    "wall_ratio": wall / base_wall,
                    "redis_cpu_us": median(rec["redis_cpu"]) * 1e6,
                    "redis_calls": median(rec["redis_calls"]),
                    "rounds": len(rec["cpu"]),
                }
            )
    return rows


def render(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        f"Run {meta['date']}, {meta['mode']} mode, {meta['seconds']} s: `{meta['command']}`  ",
        f"Machine: {meta['cores']} cores, {meta['cpu']}, Python {meta['python']}, "
        f"{meta['redis_server']}, redis-py {meta['redis_py']}; load average at start "
        f"{', '.join(f'{x:.2f}' for x in meta['load_avg_at_start'])}.  ",
        f"`chat()` with max_tokens={MAX_TOKENS}, {meta['sizes']['rounds']} rounds of "
        f"{meta['sizes']['per_round']} requests per client after {meta['sizes']['warmup']} "
        "warm-up requests; medians of rounds; ratios to the no-limiter row of the same client.",
        "",
        "| config | client | CPU us/request | CPU ratio | wall us/request | wall ratio "
        "| redis-server CPU us/request | Redis round trips/request |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['label']} | {r['client']} | {r['cpu_us']:,.0f} | {r['cpu_ratio']:.2f}x "
            f"| {r['wall_us']:,.0f} | {r['wall_ratio']:.2f}x "
            f"| {r['redis_cpu_us']:.1f} | {r['redis_calls']:.0f} |"
        )
    lines += [
        "",
        "CPU is this client process only (user + system, all threads). The redis-server's "
        "CPU is in another process and is not in it: it is shown separately (the server's "
        "INFO cpu over the same loops), as is the fake relay's (not shown). Wall time "
        "includes the Redis and relay round trips over loopback, on a machine whose cores "
        "the client, the relay and redis-server share.",
    ]
    return "\n".join(lines)


def machine(sizes: Sizes, mode: str, command: str) -> dict[str, Any]:
    cpu_model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    server = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True, check=False
    ).stdout.split()
    version = next((w[2:] for w in server if w.startswith("v=")), "?")
    versions = {}
    for name in ("holysheep-integrations", "httpx", "redis"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "-"
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "redis_server": f"redis-server {version}",
        "redis_py": versions["redis"],
        "versions": versions,
        "load_avg_at_start": list(os.getloadavg()),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": mode,
        "command": command,
        "sizes": {"warmup": sizes.warmup, "rounds": sizes.rounds, "per_round": sizes.per_round},
    }


def parent_main(args: argparse.Namespace, argv: list[str]) -> None:
    from common import FakeRelay

    sys.path.insert(0, str(ROOT))
    from tests.redis_server import RedisServer

    sizes = QUICK if args.quick else FULL
    if args.rounds:
        sizes = Sizes(sizes.warmup, args.rounds, sizes.per_round)
    configs = list(CONFIGS) if not args.configs else ["none", *args.configs.split(",")]
    configs = list(dict.fromkeys(configs))
    command = "python bench/limits.py " + " ".join(argv)
    meta = machine(sizes, args.mode, command.strip())
    extra: list[str] = []
    if args.cprofile:
        extra = ["--cprofile", args.cprofile, "--cprofile-out", args.cprofile_out]
    started = time.perf_counter()
    raw: dict[str, Any] = {}
    client_cpu, server_cpus = plan_cpus(args.pin)
    if client_cpu is not None:
        extra += ["--cpu", str(client_cpu)]
    meta["cpus"] = {"worker": client_cpu, "servers": sorted(server_cpus)}
    with FakeRelay(max_lifetime=3600) as relay, RedisServer() as server:
        if client_cpu is not None:
            assert relay.proc is not None
            assert server.process is not None
            pin(relay.proc.pid, server_cpus)
            pin(server.process.pid, server_cpus)
            _log(f"worker on CPU {client_cpu}, fake relay and redis-server on {server_cpus}")
        if args.mode == "rounds":
            _log(f"one worker, {len(configs) * 2} clients in {sizes.rounds} rotating rounds")
            merge(raw, run_worker(configs, relay.port, server.url, sizes, extra))
        else:
            passes = 3
            per_pass = Sizes(sizes.warmup, max(1, sizes.rounds // passes), sizes.per_round)
            for i in range(passes):
                _log(f"pass {i + 1} of {passes}")
                for config in configs if i % 2 == 0 else configs[::-1]:
                    merge(raw, run_worker([config], relay.port, server.url, per_pass, extra))
                    server.flushall()
    meta["seconds"] = round(time.perf_counter() - started, 1)
    rows = summarize(raw, args.mode)
    markdown = render(rows, meta)
    print(markdown)
    path = args.json or BENCH_DIR / "results" / "limits.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, "summary": rows, "raw": raw}, indent=1))
    _log(f"wrote {path}")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (about a minute)")
    parser.add_argument("--mode", choices=("rounds", "processes"), default="rounds")
    parser.add_argument("--json", type=Path, help="default: bench/results/limits.json")
    parser.add_argument("--configs", help=f"comma-separated subset of: {', '.join(CONFIGS)}")
    parser.add_argument("--rounds", type=int, help="measured rounds per client")
    parser.add_argument(
        "--cprofile", metavar="CONFIG/CLIENT", help="cProfile one client's measured loops"
    )
    parser.add_argument("--cprofile-out", default="/tmp/limits-cprofile.txt", metavar="PATH")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="put the client on one CPU, the relay and redis-server on the others",
    )
    # worker side (run by the parent)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--per-round", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.configs and not args.worker:
        for config in args.configs.split(","):
            if config not in CONFIGS:
                parser.error(f"unknown config {config!r}")
    if args.worker:
        worker_main(args)
    else:
        parent_main(args, argv)


if __name__ == "__main__":
    main()
