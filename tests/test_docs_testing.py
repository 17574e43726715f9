"""Every Python snippet of docs/testing.md runs as it is, outside this repo, and passes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "testing.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)

pytestmark = pytest.mark.loopback  # each snippet starts an emulator on 127.0.0.1


def test_the_page_has_its_examples() -> None:
    assert len(SNIPPETS) >= 5
    assert any("holysheep_env" in s for s in SNIPPETS)  # the user's test file


@pytest.mark.parametrize("code", SNIPPETS, ids=[f"snippet-{i}" for i in range(len(SNIPPETS))])
def test_snippet_runs(code: str, tmp_path: Path) -> None:
    script = tmp_path / "test_snippet.py"  # a test file name: the pytest one runs itself
    script.write_text(code)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLYSHEEP_")}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
