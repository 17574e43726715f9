"""The workload every client performs, and small measurement helpers (stdlib only)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
API_KEY = "hs_bench_not_a_real_key_0123456789"
MODEL = "gpt-4.1"
SYSTEM = "You are terse."
USER = "Say hello."
MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": USER},
]
# Must match fake_relay.py.
WORDS = ("Hello", " there", "!", " The", " relay", " is", " fast", " and", " the", " sheep")
TEXT_REPLY = "Hello there! The relay is fast and the sheep are happy today."
TEXT_TOTAL_TOKENS = 26
TOOL_TOTAL_TOKENS = 21
TOOL_NAME = "get_weather"
TOOL_ARGS = {"city": "Paris"}
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": TOOL_NAME,
            "description": "Get the current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "City name"}},
                "required": ["city"],
            },
        },
    }
]


def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"Sunny in {city}"


def stream_text(n: int) -> str:
    return "".join(WORDS[i % len(WORDS)] for i in range(n))


def stream_total_tokens(n: int) -> int:
    return 12 + n


def base_url(port: int, chunks: int | None = None, trickle: bool = False) -> str:
    """The fake relay's base URL; ``chunks`` selects the stream length via a path prefix,
    ``trickle`` a stream written one event at a time (1 ms apart)."""
    prefix = f"/{'t' if trickle else 'n'}{chunks}" if chunks else ""
    return f"http://127.0.0.1:{port}{prefix}/v1"


# --- measurement ---------------------------------------------------------------------------

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb() -> float:
    """Current resident set size in MiB (/proc, else psutil, else the peak from getrusage)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE / 2**20
    except OSError:
        pass
    try:
        import psutil

        return float(psutil.Process().memory_info().rss) / 2**20
    except ImportError:
        return peak_rss_mb()


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def cpu() -> float:
    """CPU time of this process (all threads), seconds."""
    return time.process_time()


@contextmanager
def cpu_timer(out: dict[str, float]) -> Iterator[None]:
    c0, w0 = time.process_time(), time.perf_counter()
    yield
    out["cpu"] = time.process_time() - c0
    out["wall"] = time.perf_counter() - w0


def median(values: list[float]) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def relay_stats(port: int) -> dict[str, int]:
    """The fake relay's counters (its own connection is not counted)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats", timeout=10) as r:
        data: dict[str, int] = json.loads(r.read())
        return data


class FakeRelay:
    """Start ``fake_relay.py`` in its own process; stop it on exit (or when we die)."""

    def __init__(self, max_lifetime: float = 1800.0) -> None:
        self.max_lifetime = max_lifetime
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> FakeRelay:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(BENCH_DIR / "fake_relay.py"),
                "--port",
                "0",
                "--max-lifetime",
                str(self.max_lifetime),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the fake relay did not start")
        self.port = int(json.loads(line)["port"])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
