"""Fixtures for the LangChain adapter tests (the emulator fixtures come from tests/)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from holysheep_relay.provider import close_clients
from holysheep_relay.testing import Emulator
from langchain_holysheep import ChatHolySheep
from tests.langchain.helpers import KEY, MODES, STREAMING


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    """Pooled clients learn about their relay (e.g. no stream_options): none leaks between tests."""
    yield
    close_clients()


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """invoke / ainvoke / stream / astream."""
    return str(request.param)


@pytest.fixture(params=STREAMING)
def stream_mode(request: pytest.FixtureRequest) -> str:
    """stream / astream."""
    return str(request.param)


@pytest.fixture
def make_llm(emulator: Emulator) -> Callable[..., ChatHolySheep]:
    """A ChatHolySheep factory pointed at the emulator (no retries unless asked)."""

    def make(**kw: Any) -> ChatHolySheep:
        kw.setdefault("model", "gpt-4.1")
        kw.setdefault("max_retries", 0)
        return ChatHolySheep(api_key=KEY, base_url=emulator.base_url, **kw)

    return make


@pytest.fixture
def llm(make_llm: Callable[..., ChatHolySheep]) -> ChatHolySheep:
    return make_llm()
