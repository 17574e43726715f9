"""The pytest plugin installed with holysheep-integrations (entry point ``pytest11``).

Fixtures:

- ``holysheep_emulator``: a running :class:`~holysheep_relay.testing.Emulator`, with no
  faults, scripted answers, recorded requests or counters left from another test. One
  server serves the whole session (``holysheep_emulator_server``); it is reset before and
  after each test, and what clients learned from it (the models ``/models`` published,
  pooled clients) is forgotten.
- ``holysheep_env``: ``holysheep_emulator``, with ``HOLYSHEEP_BASE_URL`` pointing at it and a
  fake ``HOLYSHEEP_API_KEY`` (``FAKE_API_KEY``) set for the test, so code that reads its
  configuration from the environment talks to the emulator.

A test file using them (no import, no conftest needed)::

    from holysheep_relay import RelayClient

    def test_retries_a_429(holysheep_env):
        holysheep_env.script(text="Hi!")
        holysheep_env.add_fault("rate_limit", retry_after=0)
        with RelayClient() as client:
            reply = client.chat(model="gpt-4.1", messages=[{"role": "user", "content": "Hi"}])
        assert reply.choices[0].message.content == "Hi!"
        assert holysheep_env.attempts() == 2

Disable it with ``pytest -p no:holysheep``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from holysheep_relay import served
from holysheep_relay.shared_clients import close_clients

from ._server import FAKE_API_KEY, Emulator

__all__ = ["holysheep_emulator", "holysheep_emulator_server", "holysheep_env"]


def _forget(emulator: Emulator) -> None:
    emulator.reset()
    served.forget(emulator.base_url)
    close_clients()


@pytest.fixture(scope="session")
def holysheep_emulator_server() -> Iterator[Emulator]:
    """One emulator for the whole session (not reset between tests; prefer
    ``holysheep_emulator``)."""
    server = Emulator().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def holysheep_emulator(holysheep_emulator_server: Emulator) -> Iterator[Emulator]:
    """The session's emulator, fresh for this test: no faults, scripts, requests or counters
    from other tests, nor model listings or pooled clients that learned from it."""
    _forget(holysheep_emulator_server)
    yield holysheep_emulator_server
    _forget(holysheep_emulator_server)


@pytest.fixture
def holysheep_env(holysheep_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """``holysheep_emulator`` with ``HOLYSHEEP_BASE_URL`` and a fake ``HOLYSHEEP_API_KEY`` set."""
    monkeypatch.setenv("HOLYSHEEP_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("HOLYSHEEP_BASE_URL", holysheep_emulator.base_url)
    return holysheep_emulator
