"""Every example runs with no key (against its own in-process emulator) and exits 0, so none
can rot; an edited example still runs, and says where its answers come from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from holysheep_relay.testing import FAKE_API_KEY, Emulator

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))
EMULATED = "Emulator mode: no HOLYSHEEP_API_KEY, so "

# Each example starts an emulator on 127.0.0.1 (in its own process) or talks to ours.
pytestmark = pytest.mark.loopback


def run(script: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOLYSHEEP_")}
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env={**clean, "PYTHONPATH": str(EXAMPLES), **env},
        timeout=120,
        cwd=EXAMPLES.parent,
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_example_runs_without_a_key(script: Path) -> None:
    proc = run(script)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first = proc.stdout.splitlines()[0]
    assert first.startswith(EMULATED + script.stem)
    assert "answers are made up, not written by a model" in first


def test_an_edited_prompt_runs_and_says_its_answer_is_emulated(tmp_path: Path) -> None:
    script = tmp_path / "quickstart.py"
    edited = (EXAMPLES / "quickstart.py").read_text().replace("Why do relays", "Why do sheep")
    assert "Why do sheep" in edited
    script.write_text(edited)
    proc = run(script)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith(EMULATED)
    assert "local HolySheep emulator" in proc.stdout.splitlines()[0]
    assert "Hello! You said: Why do sheep stream tokens?" in proc.stdout  # the new question
    assert "Traceback" not in proc.stderr


def test_with_a_key_it_calls_the_configured_relay(emulator: Emulator) -> None:
    # e.g. after `holysheep emulate` and exporting the two lines it prints
    proc = run(
        EXAMPLES / "streaming.py",
        HOLYSHEEP_API_KEY=FAKE_API_KEY,
        HOLYSHEEP_BASE_URL=emulator.base_url,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[0] == f"Live mode: calling the relay at {emulator.base_url}."
    assert emulator.attempts() == 3  # its three streams came here
