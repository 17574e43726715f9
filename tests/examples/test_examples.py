"""Every example runs offline (no key: cassette replay) and exits 0, so none can rot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


def test_every_example_has_a_cassette() -> None:
    cassettes = EXAMPLES.parent / "cassettes" / "examples"
    assert {p.stem for p in SCRIPTS} == {c.stem for c in cassettes.glob("*.yaml")}


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_example_runs_offline(script: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLYSHEEP_")}
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=EXAMPLES.parent,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[0].startswith("Offline mode: no HOLYSHEEP_API_KEY")


def test_an_unrecorded_request_fails_loudly(tmp_path: Path) -> None:
    script = tmp_path / "quickstart.py"
    # the quickstart's cassette, but a question that was never recorded
    script.write_text(
        (EXAMPLES / "quickstart.py").read_text().replace("Why do relays", "Why do sheep"),
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLYSHEEP_")}
    env["PYTHONPATH"] = str(EXAMPLES)
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=EXAMPLES.parent,
    )
    assert proc.returncode != 0
    assert "CannotOverwriteExistingCassette" in proc.stderr
