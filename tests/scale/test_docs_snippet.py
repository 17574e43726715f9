"""The worked example of README's "Running many workers" (docs/snippets/many_workers.py),
run as a user would: its own processes, the emulator as the relay, a real Redis."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from holysheep_relay.testing import Emulator
from tests.emulator_fixtures import TEST_API_KEY

ROOT = Path(__file__).resolve().parents[2]


def test_two_workers_share_one_budget(emulator: Emulator, redis_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLYSHEEP_")}
    env.update(
        HOLYSHEEP_API_KEY=TEST_API_KEY, HOLYSHEEP_BASE_URL=emulator.base_url, REDIS_URL=redis_url
    )
    done = subprocess.run(
        [sys.executable, "docs/snippets/many_workers.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    counts = re.findall(r"worker-\d: (\d+) sent, (\d+) refused", done.stdout)
    assert len(counts) == 2
    sent = sum(int(s) for s, _ in counts)
    refused = sum(int(r) for _, r in counts)
    assert sent + refused == 40
    assert sent > 0
    assert refused > 0  # the one budget stopped both workers
    assert emulator.attempts() == sent  # refused calls were never sent
    spent = float(re.findall(r"spent \$([\d.]+) of \$0.002", done.stdout)[0])
    assert 0 < spent <= 0.002
