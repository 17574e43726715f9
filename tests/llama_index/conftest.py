"""Fixtures for the LlamaIndex adapter tests: an LLM and an embedding model on the emulator."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse

from holysheep_relay import (
    RetryPolicy,
)
from holysheep_relay.provider import close_clients
from holysheep_relay.testing import Emulator
from llama_index_holysheep import HolySheep, HolySheepEmbedding
from tests.emulator_fixtures import TEST_API_KEY

# A distinctive key: tests assert it never shows up in serialisations or errors.
SECRET_KEY = "hs_fake_li_SECRET_do_not_leak_0123456789"


@functools.cache  # one object per value: models with equal settings share a client
def fast_retry_policy(max_retries: int = 2) -> RetryPolicy:
    """The core policy's decisions, backoff in milliseconds (Retry-After still honoured)."""
    return RetryPolicy(max_retries=max_retries, initial_delay=0.001, max_delay=0.002)


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    """No core client (and its learned state) survives from one test into the next."""
    close_clients()
    yield
    close_clients()


def make_llm(emulator: Emulator, **kw: Any) -> HolySheep:
    """A HolySheep on the emulator; its retry policy injected (fast, same decisions)."""
    kw.setdefault("model", "gpt-4.1")
    kw.setdefault("retry_policy", fast_retry_policy(kw.get("max_retries", 2)))
    return HolySheep(api_key=TEST_API_KEY, base_url=emulator.base_url, **kw)


@pytest.fixture
def llm(emulator: Emulator) -> HolySheep:
    return make_llm(emulator)


@pytest.fixture
def embed_model(emulator: Emulator) -> HolySheepEmbedding:
    return HolySheepEmbedding(api_key=TEST_API_KEY, base_url=emulator.base_url)


USER = "What is the capital of France?"
MODES = ["chat-sync", "chat-async", "stream-sync", "stream-async"]


def user(text: str = USER) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


async def run(llm: HolySheep, mode: str, messages: list[ChatMessage], **kw: Any) -> ChatRun:
    """One chat through ``mode`` (chat/stream x sync/async); every response is kept."""
    responses: list[ChatResponse] = []
    if mode == "chat-sync":
        responses.append(llm.chat(messages, **kw))
    elif mode == "chat-async":
        responses.append(await llm.achat(messages, **kw))
    elif mode == "stream-sync":
        responses.extend(llm.stream_chat(messages, **kw))
    elif mode == "stream-async":
        responses.extend([r async for r in await llm.astream_chat(messages, **kw)])
    else:
        raise AssertionError(mode)
    return ChatRun(responses)


@dataclass
class ChatRun:
    responses: list[ChatResponse]

    @property
    def final(self) -> ChatResponse:
        return self.responses[-1]
