"""Pytest fixtures around the relay emulator.

Load with ``pytest_plugins = ["tests.emulator_fixtures"]`` (or a star import) in
``tests/conftest.py``. Fixtures: ``emulator_server`` (session), ``emulator`` (the session
server, reset for each test) and ``relay_env`` (``emulator`` plus ``HOLYSHEEP_API_KEY`` /
``HOLYSHEEP_BASE_URL`` pointing at it).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from holysheep_relay import served
from holysheep_relay.testing import Emulator

__all__ = ["TEST_API_KEY", "emulator", "emulator_server", "relay_env"]

TEST_API_KEY = "hs_fake_test_key_0123456789abcdef"


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[Emulator]:
    """One emulator for the whole session."""
    server = Emulator().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def emulator(emulator_server: Emulator) -> Iterator[Emulator]:
    """The session emulator with no faults, requests or counters left from other tests
    (nor model listings a client remembered from it)."""
    emulator_server.reset()
    served.forget(emulator_server.base_url)
    yield emulator_server
    emulator_server.reset()
    served.forget(emulator_server.base_url)


@pytest.fixture
def relay_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """``emulator`` with ``HOLYSHEEP_API_KEY`` and ``HOLYSHEEP_BASE_URL`` set for it."""
    monkeypatch.setenv("HOLYSHEEP_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("HOLYSHEEP_BASE_URL", emulator.base_url)
    return emulator
