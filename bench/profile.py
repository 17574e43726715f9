"""Where does a client's CPU go? Profile one scenario and summarise it per chunk / request.

    python bench/profile.py relay stream
    python bench/profile.py langchain_holysheep request --top 30
    python bench/profile.py llama_index_holysheep astream --raw /tmp/li.txt

With ``py-spy`` on PATH (``pip install py-spy``): samples only the measured loops of
``clients.py`` (on-CPU samples; warm-up, imports and asyncio's own callbacks outside the
measured coroutines are left out), then prints (1) CPU by
package of the innermost Python frame and (2) the functions of this project with their
inclusive share, both converted to microseconds per unit using the CPU time the same run
measured. Without py-spy it falls back to a pyinstrument text profile (wall-clock), and
without either it says what to install.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator

from common import BENCH_DIR, FakeRelay

OURS = ("holysheep_relay", "langchain_holysheep", "llama_index_holysheep")
MEASURED = re.compile(r"^(_measured_loop|_measured_aloop|_measured_worker) \(")
_FRAME = re.compile(r"^(?P<func>.+?) \((?P<path>[^:]*):?(?P<line>\d*)\)$")
UNITS = {
    "stream": "chunk",
    "astream": "chunk",
    "trickle": "chunk",
    "request": "request",
    "tool": "request",
    "burst": "request",
}


def _package(path: str) -> str:
    if path.startswith("<"):
        return path
    parts = path.replace("\\", "/").split("/")
    if "site-packages" in parts:
        parts = parts[parts.index("site-packages") + 1 :]
    head = parts[0]
    if head.endswith(".py"):
        head = head[:-3]
    if head in ("llama_index", "langchain_core") and len(parts) > 1:
        return f"{head}.{parts[1].removesuffix('.py')}" if head == "llama_index" else head
    return head


def _frame(text: str) -> tuple[str, str]:
    m = _FRAME.match(text.strip())
    if not m:
        return text, "?"
    return f"{m.group('func')} ({m.group('path')})", m.group("path")


def _samples(raw: str) -> Iterator[tuple[int, list[str]]]:
    """(sample count, frames below the measured loop) of each py-spy ``--format raw`` line
    whose stack passes through a measured loop."""
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        start = next((i for i, f in enumerate(frames) if MEASURED.match(f)), None)
        if start is not None:
            yield int(count_text), frames[start + 1 :]


def summarise(raw: str, per_unit_us: float, unit: str, top: int) -> str:
    """Text report from py-spy ``--format raw`` output."""
    total = 0
    by_package: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    self_ours: Counter[str] = Counter()
    for count, frames in _samples(raw):
        total += count
        if not frames:
            by_package["(the loop itself)"] += count
            continue
        parsed = [_frame(f) for f in frames]
        by_package[_package(parsed[-1][1])] += count
        seen = set()
        for name, path in parsed:
            if _package(path) in OURS and name not in seen:
                seen.add(name)
                inclusive[name] += count
        for name, path in reversed(parsed):
            if _package(path) in OURS:
                self_ours[name] += count  # innermost frame of ours: time below it is not ours
                break
    if not total:
        return "no samples inside the measured loops (scenario too short? try --rate 2000)"
    scale = per_unit_us / total
    lines = [
        f"{total} samples in the measured loops; {per_unit_us:.2f} us CPU per {unit} measured",
        "",
        f"CPU by package of the innermost Python frame (us per {unit}, share):",
    ]
    for pkg, n in by_package.most_common(top):
        lines.append(f"  {n * scale:9.2f}  {n / total:6.1%}  {pkg}")
    lines += ["", f"Functions of this project, inclusive (us per {unit}, share):"]
    for name, n in inclusive.most_common(top):
        lines.append(f"  {n * scale:9.2f}  {n / total:6.1%}  {name}")
    lines += [
        "",
        f"Innermost function of this project on the stack: its own time plus the non-project"
        f" code it calls (us per {unit}, share):",
    ]
    for name, n in self_ours.most_common(top):
        lines.append(f"  {n * scale:9.2f}  {n / total:6.1%}  {name}")
    return "\n".join(lines)


def _measured(result: dict, scenario: str) -> float:
    return float(result["scenarios"][scenario]["median"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("client")
    parser.add_argument("scenario", choices=list(UNITS))
    parser.add_argument("--rate", type=int, default=2000, help="py-spy samples per second")
    parser.add_argument("--scale", type=int, default=3, help="times the full-size repeats")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--raw", help="keep py-spy's raw output here")
    args = parser.parse_args(argv)
    clients = [sys.executable, str(BENCH_DIR / "clients.py"), args.client, args.scenario]
    clients += ["--scale", str(args.scale)]
    with FakeRelay(max_lifetime=1800) as relay:
        clients += ["--port", str(relay.port)]
        spy = shutil.which("py-spy")
        if spy is None:
            try:
                import pyinstrument  # noqa: F401
            except ImportError:
                sys.exit("install py-spy (preferred) or pyinstrument: pip install py-spy")
            out = tempfile.mktemp(suffix=".txt")
            subprocess.run([*clients, "--profile", out], check=True, stdout=subprocess.DEVNULL)
            print("py-spy not found; pyinstrument (wall-clock) profile of the measured loops:")
            with open(out) as f:
                print(f.read())
            os.unlink(out)
            return
        raw_path = args.raw or tempfile.mktemp(suffix=".txt")
        proc = subprocess.run(
            [
                spy,
                "record",
                "--nonblocking",
                "-r",
                str(args.rate),
                "-f",
                "raw",
                "-o",
                raw_path,
                "--",
                *clients,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            sys.exit(f"py-spy failed: {proc.stderr.strip()[-500:]}")
        found = [ln for ln in proc.stdout.splitlines() if ln.startswith('{"client"')]
        if not found:
            sys.exit(f"no result from clients.py: {proc.stdout[-300:]} {proc.stderr[-300:]}")
        result = json.loads(found[-1])
    with open(raw_path) as f:
        raw = f.read()
    if not args.raw:
        os.unlink(raw_path)
    unit = UNITS[args.scenario]
    print(f"{args.client} / {args.scenario} (py-spy, {args.rate} Hz, on-CPU samples)")
    print(summarise(raw, _measured(result, args.scenario), unit, args.top))


if __name__ == "__main__":
    main()
