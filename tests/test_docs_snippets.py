"""Every Python snippet of README.md and docs/*.md runs as it is, against the emulator.

Each ```python block is one test, named by file and line, run in a subprocess of its own
(cwd a temp dir) with ``HOLYSHEEP_BASE_URL`` pointing at an emulator on 127.0.0.1 and a fake
``HOLYSHEEP_API_KEY``. A snippet that uses Redis gets the documented
``redis://127.0.0.1:6379/0`` replaced by a real test server's URL. Markers, an HTML comment
on the line before the fence:

- ``<!-- snippet: live -->``: written for the live relay; still run, against the emulator;
- ``<!-- snippet: skip -->``: a pure illustration, not run (at most ``MAX_SKIPPED`` of them).

Each runs as ``test_snippet.py``, so docs/testing.md's user test file (which runs pytest on
itself) is collected; those snippets start emulators of their own or use the plugin's
fixtures, outside this repo (no ``PYTHONPATH``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from holysheep_relay.testing import FAKE_API_KEY, Emulator

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTED_REDIS = "redis://127.0.0.1:6379/0"
MAX_SKIPPED = 2
MARKER = re.compile(r"<!--\s*snippet:\s*(\w+)\s*-->")
FENCE = re.compile(r"^( *)```python[ \t]*\n(.*?)^\1```", re.M | re.S)

pytestmark = pytest.mark.loopback  # every snippet talks to the emulator on 127.0.0.1


@dataclass(frozen=True)
class Snippet:
    path: str  # relative to the repository
    line: int  # of the opening fence
    code: str
    mark: str | None  # "live", "skip" or None

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"


def _pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def find_snippets(text: str, path: str) -> list[Snippet]:
    snippets = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        indent = len(match.group(1))
        code = "\n".join(row[indent:] for row in match.group(2).split("\n"))
        snippets.append(Snippet(path, line, code, marker.group(1) if marker else None))
    return snippets


SNIPPETS = [
    s
    for page in _pages()
    for s in find_snippets(page.read_text(), page.relative_to(ROOT).as_posix())
]
RUN = [s for s in SNIPPETS if s.mark != "skip"]


def test_snippets_are_found_and_few_are_skipped() -> None:
    assert {s.path for s in SNIPPETS} >= {"README.md", "docs/langchain.md", "docs/llama-index.md"}
    assert all(s.mark in (None, "live", "skip") for s in SNIPPETS), [s.id for s in SNIPPETS]
    skipped = [s.id for s in SNIPPETS if s.mark == "skip"]
    assert len(skipped) <= MAX_SKIPPED, skipped
    testing = [s.code for s in SNIPPETS if s.path == "docs/testing.md"]
    assert len(testing) >= 5
    assert any("holysheep_env" in code for code in testing)  # the user's test file


def test_the_finder_reads_markers_and_indented_fences() -> None:
    text = (
        "a\n<!-- snippet: live -->\n```python\nx = 1\n```\n"
        "\n- item\n\n  ```python\n  y = 2\n  ```\n"
    )
    found = find_snippets(text, "page.md")
    assert [(s.line, s.code, s.mark) for s in found] == [
        (3, "x = 1\n", "live"),
        (9, "y = 2\n", None),
    ]


@pytest.fixture(scope="module")
def docs_emulator() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def snippet_env(docs_emulator: Emulator) -> dict[str, str]:
    docs_emulator.reset()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLYSHEEP_")}
    env.pop("PYTHONPATH", None)
    env["HOLYSHEEP_BASE_URL"] = docs_emulator.base_url
    env["HOLYSHEEP_API_KEY"] = FAKE_API_KEY
    return env


def _run(code: str, env: dict[str, str], cwd: Path) -> None:
    script = cwd / "test_snippet.py"  # a test file name: the pytest one runs itself
    script.write_text(code)
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.mark.parametrize(
    "snippet", [s for s in RUN if DOCUMENTED_REDIS not in s.code], ids=lambda s: s.id
)
def test_snippet_runs(snippet: Snippet, snippet_env: dict[str, str], tmp_path: Path) -> None:
    _run(snippet.code, snippet_env, tmp_path)


@pytest.mark.parametrize(
    "snippet", [s for s in RUN if DOCUMENTED_REDIS in s.code], ids=lambda s: s.id
)
def test_redis_snippet_runs(
    snippet: Snippet, snippet_env: dict[str, str], redis_url: str, tmp_path: Path
) -> None:
    _run(snippet.code.replace(DOCUMENTED_REDIS, redis_url), snippet_env, tmp_path)
