"""`holysheep emulate` as a real process: it serves, prints what to export, stops on Ctrl-C,
and refuses to serve fake answers beyond this machine unless told to."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from holysheep_relay import AuthenticationError, RelayClient
from holysheep_relay.cli import main
from holysheep_relay.testing._cli import is_loopback

HOLYSHEEP = [sys.executable, "-m", "holysheep_relay.cli"]
ENV = {k: v for k, v in os.environ.items() if not k.startswith("HOLYSHEEP_")}


def read_line(proc: subprocess.Popen[str], timeout: float = 20) -> str:
    """The next line on ``proc``'s stdout ('' if it ended), failing after ``timeout``."""
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"no output in {timeout} s") from None


@pytest.fixture
def emulate() -> Iterator[list[subprocess.Popen[str]]]:
    """Start `holysheep emulate ...` processes; any still running at the end is killed."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def start(started: list[subprocess.Popen[str]], *argv: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [*HOLYSHEEP, "emulate", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    started.append(proc)
    return proc


def exports(proc: subprocess.Popen[str]) -> dict[str, str]:
    """The two `export NAME=value` lines it prints first."""
    found: dict[str, str] = {}
    for _ in range(2):
        line = read_line(proc)
        assert line.startswith("export "), line
        name, _, value = line.removeprefix("export ").partition("=")
        found[name] = value.split("  #")[0].strip()
    return found


def refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.loopback
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serves_until_stopped(emulate: list[subprocess.Popen[str]], stop: signal.Signals) -> None:
    proc = start(emulate)
    env = exports(proc)
    base_url = env["HOLYSHEEP_BASE_URL"]
    assert base_url.startswith("http://127.0.0.1:")
    assert base_url.endswith("/v1")
    with RelayClient(base_url=base_url, api_key=env["HOLYSHEEP_API_KEY"], max_retries=0) as c:
        reply = c.chat(model="gpt-4.1", messages=[{"role": "user", "content": "Hi there"}])
        assert reply.choices[0].message.content == "Hello! You said: Hi there"
    with RelayClient(base_url=base_url, api_key="any-other-key-at-all", max_retries=0) as c:
        assert [m.id for m in c.list_models()]  # any key is accepted
    proc.send_signal(stop)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode in (0, 130)
    assert "fake, deterministic answers" in err
    assert "Ctrl-C" in err
    assert "emulator stopped" in err
    assert "Traceback" not in err
    assert refused(int(base_url.rsplit(":", 1)[1].split("/")[0]))


@pytest.mark.loopback
def test_a_chosen_port_and_key(emulate: list[subprocess.Popen[str]]) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    only_me = "hs_fake_only_me_0123456789"
    proc = start(emulate, "--host", "localhost", "--port", str(port), "--api-key", only_me)
    env = exports(proc)
    assert env == {
        "HOLYSHEEP_BASE_URL": f"http://localhost:{port}/v1",
        "HOLYSHEEP_API_KEY": only_me,
    }
    other_key = RelayClient(
        base_url=env["HOLYSHEEP_BASE_URL"], api_key="hs_fake_someone_else_012345"
    )
    with other_key as c, pytest.raises(AuthenticationError):
        c.list_models()
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=15)
    assert proc.returncode in (0, 130)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.com"])
def test_refuses_a_non_loopback_host(host: str) -> None:
    proc = subprocess.run(
        [*HOLYSHEEP, "emulate", "--host", host],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""  # nothing to export: it never listened
    assert f"refusing to listen on {host}" in proc.stderr
    assert "fake answers to anyone" in proc.stderr
    assert "--force" in proc.stderr


def test_force_skips_the_refusal(capsys: pytest.CaptureFixture[str]) -> None:
    # 192.0.2.1 (TEST-NET-1) is on no interface: past the refusal, listening fails (exit 1),
    # so the test never serves anything beyond loopback.
    assert main(["emulate", "--host", "192.0.2.1", "--port", "0", "--force"]) == 1
    assert "error: cannot listen on 192.0.2.1:0" in capsys.readouterr().err


def test_port_in_use_is_an_error_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert main(["emulate", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"error: cannot listen on 127.0.0.1:{port}" in err


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("myhost", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_help_does_not_load_the_server() -> None:
    code = (
        "import sys\n"
        "from holysheep_relay.cli import build_parser\n"
        "build_parser()\n"
        "loaded = [m for m in sys.modules if m.startswith('holysheep_relay.testing.')]\n"
        "assert loaded == ['holysheep_relay.testing._cli'], loaded\n"
        "assert 'http.server' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV, timeout=60)


def test_emulate_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["emulate", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: holysheep emulate")
    for option in ("--host", "--port", "--force", "--api-key"):
        assert option in out


def test_import_holysheep_relay_leaves_the_testing_package_alone() -> None:
    code = (
        "import sys, holysheep_relay, holysheep_relay.provider\n"
        "loaded = [m for m in sys.modules if m.startswith('holysheep_relay.testing')]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV, timeout=60)
    assert Path(__file__).resolve().parents[2].joinpath("holysheep_relay", "testing").is_dir()
