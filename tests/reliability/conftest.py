"""Fixtures for the reliability suite.

- Backoff without a ``Retry-After`` is shortened to milliseconds (the same retry *decisions*
  as the shipped policy; ``Retry-After`` / ``retry-after-ms`` values are still honoured).
- No pooled client survives from one test into the next.
- Every test fails if anything emitted a ``ResourceWarning`` (an unclosed socket, response,
  transport or event loop), after a young-generation ``gc.collect`` at its teardown, and
  every module after a full one: stricter than ``-W error::ResourceWarning``, under which a
  warning raised in ``__del__`` is only printed, never failing the test.
"""

from __future__ import annotations

import gc
import socket
import warnings
from collections.abc import Iterator

import pytest

from holysheep_relay.provider import close_clients

# Warnings from third-party objects we do not create (LlamaIndex chat memory uses aiosqlite).
FOREIGN = ("aiosqlite", "sqlite3")


def resource_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """The ResourceWarnings among ``caught`` that concern our objects, as text."""
    return [
        f"{w.filename}:{w.lineno}: {w.message}"
        for w in caught
        if issubclass(w.category, ResourceWarning)
        and not any(name in f"{w.message} {w.filename}" for name in FOREIGN)
    ]


def _collect_warnings(generation: int) -> Iterator[None]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        gc.collect(generation)
    leaks = resource_warnings(caught)
    assert not leaks, "unclosed resources:\n" + "\n".join(leaks)


@pytest.fixture(autouse=True, scope="module")
def no_resource_warnings_in_module() -> Iterator[None]:
    """A full collection once per module (a full one per test would cost ~0.2 s each)."""
    yield from _collect_warnings(2)


@pytest.fixture(autouse=True)
def no_resource_warnings(no_resource_warnings_in_module: None) -> Iterator[None]:
    """Young objects per test: a leak shows up in the test that caused it."""
    yield from _collect_warnings(1)


@pytest.fixture(autouse=True)
def fresh_clients(no_resource_warnings: None) -> Iterator[None]:
    close_clients()
    yield
    close_clients()


@pytest.fixture
def refused_url() -> str:
    """A loopback base URL where nothing listens (the port was just released)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/v1"
