"""Pytest fixtures around a real ``redis-server`` (see ``tests/redis_server.py``).

Loaded by ``pytest_plugins`` in ``tests/conftest.py``. Fixtures: ``redis_server`` (one
server for the session), ``redis_url`` (its URL, every key deleted before the test),
``fresh_redis_server`` (a private server for one test, to kill and restart) and
``redis_binary`` (the path, for a test that starts a ``RedisServer`` of its own). Without
``redis-server`` on PATH the tests that use them are skipped, except under ``CI``, where
they fail (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.redis_server import PROVISION, RedisServer, find_redis_server

__all__ = ["fresh_redis_server", "redis_binary", "redis_server", "redis_url"]


def _binary() -> str:
    binary = find_redis_server()
    if binary is not None:
        return binary
    message = f"Redis tests skipped: no redis-server on PATH. Install it: {PROVISION}"
    if os.environ.get("CI"):
        pytest.fail(message.replace("skipped", "cannot run under CI"), pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_binary() -> str:
    """The ``redis-server`` binary (skips the test without one; fails it under CI)."""
    return _binary()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole session."""
    server = RedisServer(_binary()).start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session server's URL, with no keys left from other tests (restarted first if a
    test stopped it)."""
    redis_server.start()
    redis_server.flushall()
    return redis_server.url


@pytest.fixture
def fresh_redis_server() -> Iterator[RedisServer]:
    """A redis-server of this test's own, free to be killed and restarted."""
    server = RedisServer(_binary()).start()
    try:
        yield server
    finally:
        server.cleanup()
