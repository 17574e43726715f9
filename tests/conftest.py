"""Shared fixtures: the relay emulator, cassette configuration, the live-test switch."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests import cassette_config

pytest_plugins = ["tests.emulator_fixtures", "tests.redis_fixtures"]

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"
TEST_KEY = "hs_fake_test_key_0123456789abcdef"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--live",
        action="store_true",
        default=False,
        help="run tests marked 'live' against the real relay (needs HOLYSHEEP_API_KEY)",
    )


# A test that uses one of these fixtures talks to a server on 127.0.0.1 (the emulator, the
# LiteLLM proxy, redis-server) or opens a loopback socket itself: it is marked ``loopback``,
# so that ``pytest -m "not loopback"`` runs the tests that open no socket (see
# tests/README.md). The redis-server ones are also marked ``redis``.
REDIS_FIXTURES = frozenset({"redis_server", "redis_url", "fresh_redis_server", "redis_binary"})
EMULATOR_FIXTURES = frozenset(
    {"holysheep_emulator", "holysheep_emulator_server", "holysheep_env"}  # the plugin's
    | {"emulator", "emulator_server", "relay_env"}  # their aliases in tests/emulator_fixtures.py
)
LOOPBACK_FIXTURES = EMULATOR_FIXTURES | {"gateway", "refused_url"} | REDIS_FIXTURES


@pytest.hookimpl(tryfirst=True)  # before -m deselects on the markers added here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    live = config.getoption("--live") and os.environ.get("HOLYSHEEP_API_KEY")
    skip = pytest.mark.skip(reason="live relay test: pass --live and set HOLYSHEEP_API_KEY")
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if LOOPBACK_FIXTURES.intersection(fixtures):
            item.add_marker(pytest.mark.loopback)
        if REDIS_FIXTURES.intersection(fixtures):
            item.add_marker(pytest.mark.redis)
        if "live" in item.keywords and not live:
            item.add_marker(skip)


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    cassette_config.register_matchers(vcr)


@pytest.fixture(scope="module")
def vcr_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    # The config's record mode would override the command line: honour --record-mode
    # explicitly and default to playback only.
    mode = request.config.getoption("--record-mode", default=None) or "none"
    return cassette_config.vcr_config(mode)


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """cassettes/<test package>/<test module>/ e.g. cassettes/langchain/test_cassettes/."""
    path = Path(str(request.node.fspath))
    return str(CASSETTES / path.parent.name / path.stem)


@pytest.fixture
def recording(request: pytest.FixtureRequest) -> bool:
    mode = request.config.getoption("--record-mode", default=None) or "none"
    return mode != "none"


@pytest.fixture
def cassette_relay(
    request: pytest.FixtureRequest, recording: bool, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str]:
    """(base_url, api_key) for a cassette test.

    Replay: a dummy loopback URL (vcrpy answers, no socket is opened). Recording: the live
    relay when HOLYSHEEP_RECORD_LIVE=1 and HOLYSHEEP_API_KEY are set, else the emulator.
    """
    if not recording:
        url, key = "http://127.0.0.1:9/v1", TEST_KEY
    elif os.environ.get("HOLYSHEEP_RECORD_LIVE") == "1" and os.environ.get("HOLYSHEEP_API_KEY"):
        url = os.environ.get("HOLYSHEEP_BASE_URL", "https://api.holysheep.ai/v1")
        key = os.environ["HOLYSHEEP_API_KEY"]
    else:
        emulator = request.getfixturevalue("emulator")
        url, key = emulator.base_url, TEST_KEY
    monkeypatch.setenv("HOLYSHEEP_API_KEY", key)
    monkeypatch.setenv("HOLYSHEEP_BASE_URL", url)
    return url, key


@pytest.fixture
def no_relay_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No HOLYSHEEP_* variables from the developer's shell."""
    monkeypatch.delenv("HOLYSHEEP_API_KEY", raising=False)
    monkeypatch.delenv("HOLYSHEEP_BASE_URL", raising=False)
