"""Run the whole benchmark: every client in fresh processes against one fake relay.

    python bench/run.py            # full run (about 12 minutes on 2 cores)
    python bench/run.py --quick    # about a minute
    python bench/run.py --quick --clients httpx,relay --readme

Prints a markdown table (medians, with ratios to raw httpx and to the matching peer, all
measured in this run), writes every raw figure to ``bench/results/{quick,full}.json`` and, with
``--readme``, puts the tables into ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from common import BENCH_DIR, FakeRelay, median
from drivers import SPECS
from report import render, summarize
from specs import PROBE

CPU_SCENARIOS: tuple[str, ...] = ("request", "tool", "stream", "astream", "trickle", "burst")
FLOOR_SCENARIOS: tuple[str, ...] = ("request", "tool", "stream", "astream", "burst")
# Pairs that are compared sit next to each other, so they see the same machine load.
DEFAULT_ORDER = (
    "httpx",
    "relay",
    "openai",
    "langchain_openai",
    "langchain_holysheep",
    "floor_langchain",
    "openai_like",
    "llama_index_holysheep",
    "floor_llama_index",
)
PACKAGES = (
    "httpx",
    "httpcore",
    "pydantic",
    "openai",
    "langchain-core",
    "langchain-openai",
    "llama-index-core",
    "llama-index-llms-openai",
    "llama-index-llms-openai-like",
    "holysheep-integrations",
    "pyinstrument",
    "psutil",
)


def _log(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("HOLYSHEEP_API_KEY", "HOLYSHEEP_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(name, None)  # the clients get key and URL explicitly
    env["PYTHONHASHSEED"] = "0"
    return env


def _probe(key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, SPECS[key].imports],
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
    )


def importable(keys: list[str]) -> dict[str, str]:
    """Import each client once (also writes .pyc files); {key: error} for those that fail."""
    missing = {}
    for key in keys:
        proc = _probe(key)
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines()
            missing[key] = lines[-1] if lines else f"exit status {proc.returncode}"
    return missing


def time_imports(keys: list[str], repeats: int) -> dict[str, list[dict[str, float]]]:
    """Import samples per client from fresh interpreters, rounds interleaved across clients."""
    samples: dict[str, list[dict[str, float]]] = {k: [] for k in keys}
    for _ in range(repeats):
        for key in keys:
            proc = _probe(key)
            if proc.returncode == 0:
                samples[key].append(json.loads(proc.stdout))
    return samples


def import_summary(
    samples: dict[str, list[dict[str, float]]], results: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Medians over the probes and the benchmark processes (each also timed its import)."""
    out = {}
    for key, runs in samples.items():
        runs = runs + [
            {
                "cpu": p["import_cpu_s"],
                "wall": p["import_wall_s"],
                "rss_mb": p["rss_after_import_mb"],
            }
            for p in results.get(key, {}).get("processes", [])
        ]
        if runs:
            out[key] = {
                "cpu_ms": median([r["cpu"] for r in runs]) * 1e3,
                "wall_ms": median([r["wall"] for r in runs]) * 1e3,
                "rss_mb": median([r["rss_mb"] for r in runs]),
                "samples": len(runs),
                "cpu_ms_values": [r["cpu"] * 1e3 for r in runs],
            }
    return out


def run_process(key: str, scenarios: tuple[str, ...], port: int, quick: bool) -> dict[str, Any]:
    """One fresh process running ``scenarios`` for ``key``; its JSON, or {"error": ...}."""
    cmd = [sys.executable, str(BENCH_DIR / "clients.py"), key, ",".join(scenarios)]
    cmd += ["--port", str(port)] + (["--quick"] if quick else [])
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), check=False)
    took = time.perf_counter() - started
    if proc.returncode != 0:
        err = proc.stderr.strip().splitlines()
        msg = err[-1] if err else f"exit status {proc.returncode}"
        _log(f"  {key} [{','.join(scenarios)}]: FAILED ({msg})")
        return {"error": msg}
    _log(f"  {key} [{','.join(scenarios)}]: {took:.1f} s")
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def merge(into: dict[str, Any], data: dict[str, Any], scenarios: tuple[str, ...]) -> None:
    """Fold one process's results into a client's: pool the repeats, add up connections."""
    if "error" in data:
        into.setdefault("errors", {})[",".join(scenarios)] = data["error"]
        return
    into.setdefault("processes", []).append({k: v for k, v in data.items() if k != "scenarios"})
    if "memory" in data["scenarios"]:
        into["rss_end_mb"] = data["rss_end_mb"]
    into.setdefault("rss_end_mb", data["rss_end_mb"])
    for name, new in data["scenarios"].items():
        old = into.setdefault("scenarios", {}).get(name)
        if old is None:
            into["scenarios"][name] = new
            continue
        for field in ("values", "wall_values", "connections_per_burst"):
            if field in new:
                old[field] = old.get(field, []) + new[field]
        if "values" in old:
            old["median"] = median(old["values"])
        if "wall_values" in old:
            old["wall_s"] = median(old["wall_values"])
        if "connections" in new:
            old["connections"] = old.get("connections", 0) + new["connections"]


def machine() -> dict[str, Any]:
    cpu_model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "-"
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_avg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "versions": versions,
    }


def update_readme(markdown: str) -> None:
    path = BENCH_DIR / "README.md"
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{start}\n{end}\n"
    if start not in text or end not in text:
        text += f"\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{markdown}\n{end}{tail}")


def rerender(path: Path, *, readme: bool) -> None:
    """Print the tables of a run saved by ``--json`` (and write them to the README)."""
    saved = json.loads(path.read_text())
    summary = summarize(saved["results"], saved["imports"])
    markdown = render(summary, saved["meta"], saved["missing"])
    print(markdown)
    if readme:
        update_readme(markdown)
        _log("updated bench/README.md")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (about a minute)")
    parser.add_argument("--clients", help=f"comma-separated subset of: {', '.join(SPECS)}")
    parser.add_argument("--import-repeats", type=int, help="fresh interpreters per import")
    parser.add_argument("--passes", type=int, help="rounds over all clients (full: 3)")
    parser.add_argument(
        "--json", type=Path, help="output file (default: bench/results/{quick,full}.json)"
    )
    parser.add_argument("--readme", action="store_true", help="write the tables to README")
    parser.add_argument(
        "--render", type=Path, metavar="JSON", help="only re-render the tables of an earlier run"
    )
    args = parser.parse_args(argv)
    if args.render:
        rerender(args.render, readme=args.readme)
        return
    keys = list(DEFAULT_ORDER) if not args.clients else args.clients.split(",")
    for key in keys:
        if key not in SPECS:
            parser.error(f"unknown client {key!r}")
    repeats = args.import_repeats or (1 if args.quick else 7)
    command = "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    meta = machine()
    meta["command"] = command.strip()
    meta["date"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    meta["mode"] = "quick" if args.quick else "full"
    started = time.perf_counter()

    missing = importable(keys)
    for key, err in missing.items():
        _log(f"{key}: not importable, skipped ({err})")
    present = [k for k in keys if k not in missing]
    _log(f"import times: {repeats} fresh interpreters each, plus each benchmark process")
    import_samples = time_imports(present, repeats)
    results: dict[str, Any] = {k: {"client": k} for k in present}
    passes = args.passes or (1 if args.quick else 3)
    with FakeRelay(max_lifetime=3600) as relay:
        for i in range(passes):  # alternate the order so that drift hits everyone alike
            _log(f"pass {i + 1} of {passes}")
            for key in present if i % 2 == 0 else present[::-1]:
                scenarios = CPU_SCENARIOS if SPECS[key].network else FLOOR_SCENARIOS
                if args.quick and SPECS[key].network:
                    scenarios += ("memory",)  # quick: everything in one process
                merge(results[key], run_process(key, scenarios, relay.port, args.quick), scenarios)
        if not args.quick:
            _log("memory runs")
            for key in present:
                if SPECS[key].network:
                    merge(
                        results[key], run_process(key, ("memory",), relay.port, False), ("memory",)
                    )
    meta["seconds"] = round(time.perf_counter() - started, 1)

    imports = import_summary(import_samples, results)
    summary = summarize(results, imports)
    markdown = render(summary, meta, missing)
    print(markdown)
    saved = {
        "meta": meta,
        "missing": missing,
        "imports": imports,
        "results": results,
        "summary": summary,
    }
    path = args.json or BENCH_DIR / "results" / f"{meta['mode']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(saved, indent=1))
    _log(f"wrote {path}")
    if args.readme:
        update_readme(markdown)
        _log("updated bench/README.md")


if __name__ == "__main__":
    main()
