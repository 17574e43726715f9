"""The installed pytest plugin: its fixtures work in a user's own project, outside this repo."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from holysheep_relay import RelayClient, served
from holysheep_relay.testing import FAKE_API_KEY, Emulator

REPO = Path(__file__).resolve().parents[1]

USER_TESTS = '''
"""A user's tests of their own code, with nothing but the installed package."""
import asyncio

import pytest

from holysheep_relay import RateLimitError, RelayClient
from langchain_holysheep import ChatHolySheep


def test_a_429_then_the_scripted_answer(holysheep_env):
    holysheep_env.script(text="Paris.", usage={"prompt_tokens": 9, "completion_tokens": 1})
    holysheep_env.add_fault("rate_limit", retry_after=0)
    reply = ChatHolySheep(model="gpt-4.1").invoke("Capital of France?")
    assert reply.content == "Paris."
    assert reply.usage_metadata["total_tokens"] == 10
    assert holysheep_env.attempts() == 2  # the 429, then the answer


def test_streamed_tool_call(holysheep_env):
    holysheep_env.script(tool_calls=[{"name": "add", "arguments": {"a": 2, "b": 3}}])
    with RelayClient() as client, client.stream_chat(
        model="gpt-4.1", messages=[{"role": "user", "content": "2 + 3?"}]
    ) as stream:
        list(stream)
    call = stream.result.tool_calls[0]
    assert (call.function.name, call.function.arguments) == ("add", '{"a":2,"b":3}')


def test_nothing_is_left_from_the_other_tests(holysheep_emulator):
    assert holysheep_emulator.requests == []
    assert holysheep_emulator.faults_pending == holysheep_emulator.scripts_pending == 0


def test_retries_run_out(holysheep_emulator):
    holysheep_emulator.add_fault("rate_limit", retry_after=0, times=3)
    client = RelayClient(base_url=holysheep_emulator.base_url, api_key="my-test-key-000000000")
    with client, pytest.raises(RateLimitError):
        client.chat(model="gpt-4.1", messages=[{"role": "user", "content": "Hi"}])
    assert holysheep_emulator.attempts() == 3


def test_async(holysheep_env):
    holysheep_env.script(json={"ok": True})

    async def ask():
        return await ChatHolySheep(model="gpt-4.1").ainvoke("JSON please")

    assert asyncio.run(ask()).content == '{"ok": true}'
'''


def run_pytest(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLYSHEEP_")}
    env.pop("PYTHONPATH", None)  # the plugin must come from the installed entry point
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_plugin_is_a_registered_entry_point() -> None:
    (plugin,) = [e for e in entry_points(group="pytest11") if e.name == "holysheep"]
    assert plugin.value == "holysheep_relay.testing.pytest_plugin"
    assert "holysheep_relay.testing.pytest_plugin" in (REPO / "pyproject.toml").read_text()


@pytest.mark.loopback  # the subprocess's tests talk to its own emulator on 127.0.0.1
def test_a_users_test_file_outside_the_repo(tmp_path: Path) -> None:
    assert REPO not in tmp_path.parents
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # the user's project, not ours
    (tmp_path / "test_my_app.py").write_text(textwrap.dedent(USER_TESTS))
    proc = run_pytest(tmp_path, "-W", "error::pytest.PytestUnraisableExceptionWarning")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "5 passed" in proc.stdout

    off = run_pytest(tmp_path, "-p", "no:holysheep", "-k", "nothing_is_left")
    assert off.returncode != 0
    assert "fixture 'holysheep_emulator' not found" in off.stdout


def test_holysheep_env_points_the_environment_at_the_emulator(holysheep_env: Emulator) -> None:
    assert os.environ["HOLYSHEEP_BASE_URL"] == holysheep_env.base_url
    assert os.environ["HOLYSHEEP_API_KEY"] == FAKE_API_KEY
    with RelayClient() as client:  # a listing learned in this test ...
        client.list_models()
    assert served.model_ids(holysheep_env.base_url)
    holysheep_env.add_fault("rate_limit")
    holysheep_env.script(text="unused")


def test_holysheep_emulator_starts_clean(holysheep_emulator: Emulator) -> None:
    # ... is forgotten by the next one, with the fault and the script
    assert served.model_ids(holysheep_emulator.base_url) == []
    assert holysheep_emulator.faults_pending == holysheep_emulator.scripts_pending == 0
    assert holysheep_emulator.requests == []


def test_the_suites_names_are_the_plugins_fixtures(
    emulator: Emulator, holysheep_emulator: Emulator, emulator_server: Emulator
) -> None:
    assert emulator is holysheep_emulator is emulator_server
