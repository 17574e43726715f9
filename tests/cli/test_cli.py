"""The `holysheep` command against the emulator: check, models, chat, cost, --help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from holysheep_relay.cli import main
from tests.emulator import Emulator

KEY = "hs_fake_cli_key_0123456789abcdef"


@pytest.fixture
def env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("HOLYSHEEP_API_KEY", KEY)
    monkeypatch.setenv("HOLYSHEEP_BASE_URL", emulator.base_url)
    return emulator


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_ok_reports_latency(env: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check")
    assert code == 0
    assert "ok   /models:" in out
    assert " ms" in out
    assert KEY not in out


def test_check_missing_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HOLYSHEEP_API_KEY", raising=False)
    code, out, _ = run(capsys, "check")
    assert code == 1
    assert "HOLYSHEEP_API_KEY is not set" in out


def test_check_rejected_key(env: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    env.add_fault("auth_error", path="/models")
    code, out, _ = run(capsys, "check")
    assert code == 1
    assert "rejected the key (401)" in out


def test_check_doubled_v1_is_diagnosed_and_normalised(
    env: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOLYSHEEP_BASE_URL", env.base_url + "/v1")
    code, out, _ = run(capsys, "check")
    assert code == 0
    assert "normalised" in out
    assert env.base_url in out


def test_check_wrong_path_gets_a_base_url_hint(
    env: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOLYSHEEP_BASE_URL", env.base_url.replace("/v1", "/api/v9"))
    code, out, _ = run(capsys, "check")
    assert code == 1
    assert "base URL is probably wrong" in out


@pytest.mark.loopback  # connects to 127.0.0.1:9 (refused)
def test_check_unreachable_host(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOLYSHEEP_API_KEY", KEY)
    monkeypatch.setenv("HOLYSHEEP_BASE_URL", "http://127.0.0.1:9/v1")  # discard port: refused
    code, out, _ = run(capsys, "check", "--timeout", "2")
    assert code == 1
    assert "cannot reach" in out


def test_models_table_and_json(env: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "models")
    assert code == 0
    line = next(row for row in out.splitlines() if row.startswith("gemini-2.5-flash"))
    assert "1,048,576" in line
    assert "$0.3 / $2.5" in line
    code, out, _ = run(capsys, "models", "--json")
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows["gpt-4.1"]["context_window"] == 1_047_576
    assert rows["gpt-4.1"]["limits_from"] == "catalog"
    env.model_limits = {"gpt-4.1": {"max_input_tokens": 12_345, "max_output_tokens": 678}}
    code, out, _ = run(capsys, "models", "--json")
    rows = {r["id"]: r for r in json.loads(out)}  # the relay's own figures win
    assert (rows["gpt-4.1"]["context_window"], rows["gpt-4.1"]["max_output_tokens"]) == (
        12_345,
        678,
    )
    assert rows["gpt-4.1"]["limits_from"] == "relay"
    assert rows["gpt-5.4"]["usd_per_million"] is None


@pytest.mark.parametrize("stream", [False, True])
def test_chat_prints_answer_and_usage_on_stderr(
    env: Emulator, capsys: pytest.CaptureFixture[str], stream: bool
) -> None:
    argv = ["chat", "hi there", "--model", "gpt-4.1"] + (["--stream"] if stream else [])
    code, out, err = run(capsys, *argv)
    assert code == 0
    assert out.strip() == "Hello! You said: hi there"
    assert "[gpt-4.1]" in err
    assert " in / " in err
    assert "$" in err
    assert (env.requests[-1].json or {}).get("stream", False) is stream


def test_chat_json_modes(env: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "chat", "hi", "--json")
    assert json.loads(out)["choices"][0]["message"]["content"] == "Hello! You said: hi"
    _, out, _ = run(capsys, "chat", "hi", "--json", "--stream")
    chunks = [json.loads(line) for line in out.splitlines()]
    assert chunks[-1]["usage"]["total_tokens"] > 0


def test_chat_unknown_model_exits_1_with_suggestion(
    env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "chat", "hi", "--model", "claude-opus-4.6b")
    assert code == 1
    assert "claude-opus-4.6" in err
    assert "holysheep models" in err


def test_cost(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "cost", "--model", "sonnet-4", "--input-tokens", "1000000", "--output-tokens", "0"
    )
    assert code == 0
    assert "$3.000000" in out
    code, _, err = run(
        capsys, "cost", "--model", "mystery", "--input-tokens", "1", "--output-tokens", "1"
    )
    assert code == 1
    assert "no price known" in err


@pytest.mark.parametrize("sub", ["check", "models", "chat", "cost"])
def test_every_command_has_help(sub: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([sub, "--help"])
    assert info.value.code == 0
    assert "usage: holysheep " + sub in capsys.readouterr().out


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "holysheep"
    proc = subprocess.run(
        [str(script), "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.startswith("holysheep ")
