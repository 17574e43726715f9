"""Start a fleet of ``tests.scale.worker`` processes and collect what each call did."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from holysheep_relay.testing import Emulator

__all__ = ["Call", "arrivals", "run_fleet"]

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Call:
    tag: str
    i: int
    prompt: str
    outcome: str
    cost: float | None
    tokens: int
    at: float
    message: str = ""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLYSHEEP_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def run_fleet(
    base_url: str,
    redis_url: str,
    workers: list[dict[str, Any]],
    *,
    timeout: float = 300.0,
) -> list[Call]:
    """Run one OS process per entry of ``workers`` (worker options, e.g. ``{"tag": "w1",
    "count": 5, "rpm": 10}``), all starting their calls at the same moment (once every one
    has imported and built its client); return every call they made. Fails when a worker
    exits non-zero."""
    processes = []
    for options in workers:
        argv = [sys.executable, "-m", "tests.scale.worker", "--base-url", base_url]
        argv += ["--redis", redis_url]
        for key, value in options.items():
            argv += [f"--{key.replace('_', '-')}", str(value)]
        processes.append(
            subprocess.Popen(
                argv,
                cwd=ROOT,
                env=_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for process in processes:  # each says it is ready...
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            _, err = process.communicate(timeout=timeout)
            raise AssertionError(f"worker failed before its first call:\n{err}")
        assert "ready" in json.loads(line)
    for process in processes:  # ...then all go at once
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    calls: list[Call] = []
    for process in processes:
        out, err = process.communicate(timeout=timeout)
        assert process.returncode == 0, f"worker failed ({process.returncode}):\n{err}"
        for line in out.splitlines():
            record = json.loads(line)
            calls.append(
                Call(
                    tag=record["tag"],
                    i=record["i"],
                    prompt=record["prompt"],
                    outcome=record["outcome"],
                    cost=record.get("cost"),
                    tokens=int(record.get("tokens") or 0),
                    at=float(record["at"]),
                    message=record.get("message", ""),
                )
            )
    return calls


def arrivals(emulator: Emulator, prefix: str = "") -> dict[str, list[float]]:
    """Arrival times at the relay, by prompt (chat requests whose prompt starts ``prefix``)."""
    seen: dict[str, list[float]] = {}
    for request in emulator.requests:
        body = request.json or {}
        messages = body.get("messages") or []
        if request.path != "/chat/completions" or not messages:
            continue
        text = messages[-1].get("content")
        if isinstance(text, str) and text.startswith(prefix):
            seen.setdefault(text, []).append(request.received_at)
    return seen
