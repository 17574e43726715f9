"""The `holysheep` command against the emulator: check, models, chat, cost, --help; and
`usage` against a real redis-server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from holysheep_relay.cli import main
from holysheep_relay.redis_usage import RedisUsageLedger
from holysheep_relay.testing import Emulator
from holysheep_relay.usage import UsageEvent
from holysheep_relay.wire import Usage
from tests.redis_server import free_port

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
    assert code == 2  # a configuration error, as docs/cli.md says
    assert "HOLYSHEEP_API_KEY is not set" in out


@pytest.mark.parametrize(
    ("pasted", "says"),
    [
        ('"{key}"', "is wrapped in quotes, which became part of the value"),
        ("'{key}'", "is wrapped in quotes"),
        ("Bearer {key}", "starts with 'Bearer ': leave it out"),
        ("{key}\nhs_second_line_0123456789", "has a line break inside it"),
        ("hs_fake {key}", "has a space or tab inside it"),
        ("{key}\tx", "has a space or tab inside it"),
        ("{key}\u2026", "contains non-ASCII characters"),
    ],
)
def test_check_reports_a_pasted_key_as_a_configuration_error(
    env: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    pasted: str,
    says: str,
) -> None:
    monkeypatch.setenv("HOLYSHEEP_API_KEY", pasted.replace("{key}", KEY))
    code, out, err = run(capsys, "check")
    assert code == 2
    assert out.startswith(f"FAIL key: HOLYSHEEP_API_KEY {says}")
    assert "looks fine" not in out
    assert KEY not in out + err
    assert env.requests == []  # found before anything was sent


def test_check_accepts_a_key_with_a_trailing_newline(
    env: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As ``export HOLYSHEEP_API_KEY="$(cat keyfile)"`` or a .env line leaves it: harmless."""
    monkeypatch.setenv("HOLYSHEEP_API_KEY", KEY + "\n")
    code, out, _ = run(capsys, "check")
    assert code == 0
    assert "note key: surrounding whitespace" in out
    assert env.requests[-1].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("url", ["ftp://relay.example.com/v1", "relay.example.com/v1"])
def test_check_bad_base_url_is_a_configuration_error(
    env: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    monkeypatch.setenv("HOLYSHEEP_BASE_URL", url)
    code, out, _ = run(capsys, "check")
    assert code == 2
    assert "FAIL base URL:" in out
    assert "not an http(s) URL" in out


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
    wrong = env.base_url.replace("/v1", "/api/v9")
    monkeypatch.setenv("HOLYSHEEP_BASE_URL", wrong)
    code, out, _ = run(capsys, "check")
    assert code == 1  # the relay answered: the call failed
    assert f"the relay has no {wrong}/models: check base_url / HOLYSHEEP_BASE_URL" in out
    assert KEY not in out


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


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t"])
def test_chat_refuses_an_empty_prompt_before_sending(
    env: Emulator, capsys: pytest.CaptureFixture[str], prompt: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["chat", prompt])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "the prompt is empty" in err
    assert 'holysheep chat "Say hi"' in err
    assert env.requests == []


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


def _record_usage(url: str, name: str) -> RedisUsageLedger:
    ledger = RedisUsageLedger(url, name=name, clock=lambda: 1_767_225_600.0)  # 2026-01-01
    usage = Usage(prompt_tokens=1200, completion_tokens=300, total_tokens=1500)
    ledger(UsageEvent("gpt-4.1", usage, 0.0048, 10.0, "req_1"))
    ledger(UsageEvent("gpt-4.1", None, None, 10.0, "req_2"))
    ledger(UsageEvent("claude-sonnet-4.5", usage, 0.0081, 10.0, "req_3"))
    assert ledger.flush()
    return ledger


def test_usage_prints_the_shared_report(redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = _record_usage(redis_url, "workers")
    code, out, _ = run(capsys, "usage", "--redis", redis_url, "--name", "workers")
    assert code == 0
    assert out == ledger.report() + "\n"
    assert out.splitlines()[-2].split() == ["TOTAL", "3", "2400", "600", "0.012900+?"]
    code, out, _ = run(capsys, "usage", "--redis", redis_url, "--name", "workers", "--json")
    data = json.loads(out)
    assert data["total"]["requests"] == 3
    assert data["total"]["requests_without_usage"] == 1
    assert data["by_model"]["claude-sonnet-4.5"]["cost_usd"] == 0.0081
    assert list(data["by_day"]) == ["2026-01-01"]
    code, out, _ = run(
        capsys, "usage", "--redis", redis_url, "--name", "workers", "--day", "2026-01-01"
    )
    assert out == ledger.report("2026-01-01") + "\n"
    code, out, _ = run(
        capsys, "usage", "--redis", redis_url, "--name", "workers", "--day", "2026-01-02", "--json"
    )
    assert json.loads(out)["total"]["requests"] == 0
    code, out, _ = run(capsys, "usage", "--redis", redis_url)  # the "default" ledger: empty
    assert out.splitlines()[-1].split() == ["TOTAL", "0", "0", "0", "0.000000"]
    ledger.close()


@pytest.mark.loopback  # connects to a closed port on 127.0.0.1
def test_usage_with_redis_unreachable_exits_1_without_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = free_port()
    code, out, err = run(capsys, "usage", "--redis", f"redis://:hunter2-secret@127.0.0.1:{port}/0")
    assert code == 1
    assert out == ""
    assert err.startswith(f"error: cannot read usage from Redis at 127.0.0.1:{port}/0 (")
    assert "hunter2" not in err
    assert "Traceback" not in err
    code, _, err = run(capsys, "usage", "--redis", "http://:hunter2-secret@127.0.0.1:6379")
    assert code == 2  # not a Redis URL: a usage error
    assert "redis://" in err
    assert "hunter2" not in err


@pytest.mark.parametrize(
    ("sub", "reads_env"),
    [("check", True), ("models", True), ("chat", True), ("cost", False), ("usage", False)],
)
def test_every_command_has_help(
    sub: str, reads_env: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main([sub, "--help"])
    assert info.value.code == 0
    page = capsys.readouterr().out
    assert "usage: holysheep " + sub in page
    description = page.split("\n\n")[1]  # the paragraph after the usage lines
    assert not description.startswith(("positional arguments", "options"))
    assert len(description) > 40
    assert "exit codes: 0 success, 1 the relay or the call failed, 2 bad usage" in page
    assert ("HOLYSHEEP_API_KEY" in page) is reads_env
    assert ("HOLYSHEEP_BASE_URL" in page) is reads_env


def test_the_exit_code_reaches_the_shell(tmp_path: Path) -> None:
    """2 for a configuration error, from the installed script (not only main()'s value)."""
    script = Path(sys.executable).parent / "holysheep"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOLYSHEEP_")}
    proc = subprocess.run(
        [str(script), "check"], capture_output=True, text=True, env=clean, cwd=tmp_path
    )
    assert proc.returncode == 2
    assert "HOLYSHEEP_API_KEY is not set" in proc.stdout
    proc = subprocess.run(
        [str(script), "chat", ""], capture_output=True, text=True, env=clean, cwd=tmp_path
    )
    assert proc.returncode == 2
    assert "the prompt is empty" in proc.stderr


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "holysheep"
    proc = subprocess.run(
        [str(script), "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.startswith("holysheep ")
