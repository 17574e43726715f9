"""The progress display: a rich bar on a terminal, plain log lines otherwise or without rich."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from holysheep_relay import _batch_progress, run_batch
from holysheep_relay.testing import FAKE_API_KEY, Emulator

from .helpers import prompts_file


@pytest.fixture
def every_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain progress line after every result (not every few seconds)."""
    monkeypatch.setattr(_batch_progress, "LOG_EVERY", 0.0)


@pytest.mark.usefixtures("every_result")
def test_plain_log_lines_when_stdout_is_not_a_terminal(
    relay_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_batch(prompts_file(tmp_path / "in.jsonl", 5), tmp_path / "out.jsonl", concurrency=1)

    err = capsys.readouterr().err
    assert "batch: 5/5 done, 0 failed" in err
    assert "tokens, $" in err
    assert "req/s" in err
    assert FAKE_API_KEY not in err


@pytest.mark.usefixtures("every_result")
def test_no_progress_at_all_when_turned_off(
    relay_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_batch(prompts_file(tmp_path / "in.jsonl", 3), tmp_path / "out.jsonl", progress=False)

    assert capsys.readouterr().err == ""


def test_a_rich_bar_on_a_terminal(
    relay_env: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)

    run_batch(prompts_file(tmp_path / "in.jsonl", 5), tmp_path / "out.jsonl")

    captured = capsys.readouterr()
    assert "5/5 done, 0 failed" in captured.out
    assert captured.err == ""


@pytest.mark.usefixtures("every_result")
def test_plain_lines_on_a_terminal_without_rich(
    relay_env: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setitem(sys.modules, "rich.progress", None)  # import rich.progress fails

    run_batch(prompts_file(tmp_path / "in.jsonl", 2), tmp_path / "out.jsonl", concurrency=1)

    assert "batch: 2/2 done" in capsys.readouterr().err


def test_the_package_works_without_rich() -> None:
    """rich is the optional ``progress`` extra: with it missing, batch still imports (httpx
    itself imports rich when it is installed, so "not imported" cannot be the check)."""
    import subprocess

    code = (
        "import sys; sys.modules['rich'] = None; sys.modules['rich.progress'] = None\n"
        "from holysheep_relay import run_batch, _batch_progress\n"
        "print(type(_batch_progress.Progress.create(True, 1)).__name__)"
    )
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "_Lines"
