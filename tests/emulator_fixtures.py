"""Our tests' names for the fixtures of the installed pytest plugin (``holysheep``).

``holysheep_relay.testing.pytest_plugin`` provides ``holysheep_emulator_server`` (one
emulator for the session), ``holysheep_emulator`` (that server, reset for each test) and
``holysheep_env`` (the emulator plus ``HOLYSHEEP_API_KEY`` / ``HOLYSHEEP_BASE_URL``). The
suite predates the plugin and calls them ``emulator_server``, ``emulator`` and
``relay_env``: these are the same fixtures under those names. Loaded by
``tests/conftest.py``.
"""

from __future__ import annotations

import pytest

from holysheep_relay.testing import FAKE_API_KEY, Emulator

__all__ = ["TEST_API_KEY", "emulator", "emulator_server", "relay_env"]

TEST_API_KEY = FAKE_API_KEY


@pytest.fixture(scope="session")
def emulator_server(holysheep_emulator_server: Emulator) -> Emulator:
    """``holysheep_emulator_server``: one emulator for the whole session."""
    return holysheep_emulator_server


@pytest.fixture
def emulator(holysheep_emulator: Emulator) -> Emulator:
    """``holysheep_emulator``: the session emulator, reset for this test."""
    return holysheep_emulator


@pytest.fixture
def relay_env(holysheep_env: Emulator) -> Emulator:
    """``holysheep_env``: ``emulator`` with ``HOLYSHEEP_API_KEY`` and ``HOLYSHEEP_BASE_URL``."""
    return holysheep_env
