"""``holysheep batch`` in a real subprocess: exit codes, SIGINT mid-run and resume, no key."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from holysheep_relay.testing import FAKE_API_KEY, Emulator

from .helpers import lines_of, prompt_counts, prompts_file, successes, write_lines

ROOT = Path(__file__).resolve().parents[2]


def _env(emulator: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLYSHEEP_")}
    env.update(
        PYTHONPATH=str(ROOT), HOLYSHEEP_BASE_URL=emulator.base_url, HOLYSHEEP_API_KEY=FAKE_API_KEY
    )
    return env


def _argv(source: Path, target: Path, *extra: str) -> list[str]:
    cli = [sys.executable, "-m", "holysheep_relay.cli", "batch"]
    return [*cli, str(source), "-o", str(target), *extra]


def _run(emulator: Emulator, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), env=_env(emulator), capture_output=True, text=True, timeout=120, check=False
    )


def _start(emulator: Emulator, source: Path, target: Path) -> subprocess.Popen[str]:
    """``holysheep batch`` at concurrency 2, running in the background."""
    return subprocess.Popen(
        _argv(source, target, "--concurrency", "2"),
        env=_env(emulator),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_all_succeeded_exits_0_and_prints_the_summary(emulator: Emulator, tmp_path: Path) -> None:
    source = prompts_file(tmp_path / "in.jsonl", 5)
    target = tmp_path / "out.jsonl"

    done = _run(emulator, *_argv(source, target, "--concurrency", "2"))

    assert done.returncode == 0, done.stderr
    assert "batch: 5 lines, 5 succeeded, failed: 0, 0 skipped (already done)" in done.stdout
    assert len(successes(target)) == 5
    assert FAKE_API_KEY not in done.stdout + done.stderr + target.read_text(encoding="utf-8")


def test_some_failed_exits_1_and_duplicates_exit_2(emulator: Emulator, tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", ['{"custom_id": "a", "prompt": "x"}', "{oops"])
    target = tmp_path / "out.jsonl"

    some_failed = _run(emulator, *_argv(source, target, "--model", "gpt-4.1"))

    assert some_failed.returncode == 1, some_failed.stderr
    assert "failed: 1 InvalidInputError" in some_failed.stdout

    emulator.add_fault("server_error")
    no_retry = _run(
        emulator, *_argv(source, tmp_path / "r.jsonl", "-m", "gpt-4.1", "--max-retries", "0")
    )

    assert no_retry.returncode == 1
    assert "failed: 1 InvalidInputError, 1 ServerError" in no_retry.stdout

    dupes = write_lines(tmp_path / "dupes.jsonl", ['{"custom_id": "a"}', '{"custom_id": "a"}'])
    refused = _run(emulator, *_argv(dupes, tmp_path / "d.jsonl"))

    assert refused.returncode == 2
    assert "'a' on lines 1, 2" in refused.stderr

    missing = _run(emulator, *_argv(tmp_path / "nope.jsonl", tmp_path / "n.jsonl"))

    assert missing.returncode == 2
    assert "No such file" in missing.stderr
    assert "Traceback" not in missing.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_run_stops_cleanly_and_a_rerun_finishes(
    emulator: Emulator, tmp_path: Path, sig: signal.Signals
) -> None:
    source = prompts_file(tmp_path / "in.jsonl", 30)
    target = tmp_path / "out.jsonl"
    emulator.add_fault("slow_headers", times=30, delay=0.25)
    process = _start(emulator, source, target)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # mid-run: some lines written, most not
        if target.exists() and len(target.read_text(encoding="utf-8").splitlines()) >= 4:
            break
        time.sleep(0.05)
    process.send_signal(sig)
    out, err = process.communicate(timeout=60)

    assert process.returncode == 130, err
    assert "stopped early: interrupted" in out
    first = successes(target)
    assert 4 <= len(first) < 30
    assert all(line["error"] is None for line in lines_of(target))  # nothing written as failed
    before = prompt_counts(emulator)

    rerun = _run(emulator, *_argv(source, target, "--concurrency", "4"))

    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(first)} skipped (already done)" in rerun.stdout
    done = successes(target)
    assert sorted(done) == sorted(f"req-{i}" for i in range(30))
    assert all(len(found) == 1 for found in done.values())  # exactly one success line each
    after = prompt_counts(emulator)
    for custom_id in first:  # a line that had succeeded was never sent again
        prompt = f"prompt {custom_id.removeprefix('req-')}"
        assert before[prompt] == after[prompt] == 1


def test_redis_shares_the_limiter_and_the_budget_named_batch(
    emulator: Emulator, tmp_path: Path, redis_url: str
) -> None:
    import redis

    source = prompts_file(tmp_path / "in.jsonl", 6)
    target = tmp_path / "out.jsonl"
    argv = _argv(source, target, "--redis", redis_url, "--rpm", "100", "--budget-usd", "1")

    done = _run(emulator, *argv)

    assert done.returncode == 0, done.stderr
    assert len(successes(target)) == 6
    keys = {k.decode() for k in redis.Redis.from_url(redis_url).keys("holysheep:{batch}:*")}
    assert any(":rl:" in k for k in keys), keys
    assert any(":budget:" in k for k in keys), keys

    spent = ("--redis", redis_url, "--budget-usd", "0.0000001")  # less than one call
    tiny = _run(emulator, *_argv(source, tmp_path / "again.jsonl", *spent))

    assert tiny.returncode == 130
    assert "the budget ran out" in tiny.stdout


def test_requests_still_in_flight_after_the_grace_period_are_cancelled(tmp_path: Path) -> None:
    source = prompts_file(tmp_path / "in.jsonl", 2)
    target = tmp_path / "out.jsonl"
    with Emulator() as emulator:  # its own: two handlers stay paused after the test
        emulator.add_fault("slow_headers", times=2, delay=8.0)
        process = _start(emulator, source, target)
        deadline = time.monotonic() + 30
        while len(emulator.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        signalled = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
        took = time.monotonic() - signalled

    assert process.returncode == 130, err
    assert 4.0 < took < 7.9  # the grace period (5 s), not the 8 s the replies would take
    assert "0 succeeded" in out
    assert target.read_text(encoding="utf-8") == ""  # cancelled: nothing written for them
