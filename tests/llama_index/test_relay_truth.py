"""HolySheep / HolySheepEmbedding treat the relay as the source of truth (emulator).

Model ids as written, ``metadata`` from the relay's /models limits, error frames retried
before content, usage the relay left out counted, ``model_copy`` of the key, and the
short-key warning logged once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse
from pydantic import SecretStr

from holysheep_relay import AuthenticationError, RelayClient, UsageLedger, get_model_spec
from holysheep_relay.testing import Emulator
from llama_index_holysheep import HolySheep, HolySheepEmbedding
from tests.emulator_fixtures import TEST_API_KEY
from tests.llama_index.conftest import make_llm

NEW_KEY = "hs_fake_other_key_0123456789"
PROMPT = "hi there"
ANSWER = f"Hello! You said: {PROMPT}"
MESSAGES = [ChatMessage(role="user", content=PROMPT)]


def respond(llm: HolySheep, mode: str) -> ChatResponse:
    """The chat reply, or the last (complete) response of the stream."""
    if mode == "chat":
        reply: ChatResponse = llm.chat(MESSAGES)
        return reply
    *_, last = llm.stream_chat(MESSAGES)
    assert isinstance(last, ChatResponse)
    return last


def chat_bodies(emulator: Emulator) -> list[dict[str, Any]]:
    return [r.json or {} for r in emulator.requests if r.path == "/chat/completions"]


# -- model ids as written ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["chat", "stream"])
@pytest.mark.parametrize("model", ["deepseek-chat", "claude-sonnet-4-5", "sonnet-4"])
def test_model_id_is_sent_as_written(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, mode: str, model: str
) -> None:
    monkeypatch.setattr(emulator, "models", [*emulator.models, model])
    reply = respond(make_llm(emulator, model=model), mode)
    assert [b["model"] for b in chat_bodies(emulator)] == [model]
    assert reply.message.content == ANSWER


@pytest.mark.parametrize("model", ["deepseek-chat", "claude-sonnet-4-5", "sonnet-4"])
def test_embedding_model_id_is_sent_as_written(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, model: str
) -> None:
    monkeypatch.setattr(emulator, "models", [*emulator.models, model])
    embed = HolySheepEmbedding(model_name=model, api_key=TEST_API_KEY, base_url=emulator.base_url)
    assert embed.get_text_embedding("hello")
    assert [r.json["model"] for r in emulator.requests if r.json] == [model]


# -- an error frame inside the 200 stream -------------------------------------------------

LITELLM_429_FRAME = {
    "error": {
        "message": "litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached",
        "type": "throttling_error",
        "code": "429",
    },
    "retry_after": 0,
}


def test_error_frame_before_content_is_retried_in_stream_chat(emulator: Emulator) -> None:
    emulator.add_fault("error_chunk", after=1, error=LITELLM_429_FRAME, done=True)
    ledger = UsageLedger()
    reply = respond(make_llm(emulator, max_retries=2, on_usage=ledger), "stream")
    assert reply.message.content == ANSWER
    assert emulator.attempts() == 2
    assert ledger.total.requests == 1  # one answer, reported once
    assert ledger.total.requests_without_usage == 0


# -- the relay's own limits -------------------------------------------------------------


def test_metadata_follows_the_relays_listing(emulator: Emulator) -> None:
    spec = get_model_spec("gpt-4.1")
    llm = make_llm(emulator)
    pinned = make_llm(emulator, context_window=7_000, max_tokens=300)
    catalog = (spec.context_window, spec.max_output_tokens)
    assert (llm.metadata.context_window, llm.metadata.num_output) == catalog
    emulator.model_limits = {"gpt-4.1": {"max_input_tokens": 50_000, "max_output_tokens": 4_000}}
    with RelayClient(api_key=TEST_API_KEY, base_url=emulator.base_url) as client:
        client.list_models()
    # the same object, created before the listing, now reports the relay's figures
    assert (llm.metadata.context_window, llm.metadata.num_output) == (50_000, 4_000)
    fresh = make_llm(emulator).metadata
    assert (fresh.context_window, fresh.num_output) == (50_000, 4_000)
    # explicit settings still win over the relay's listing
    assert (pinned.metadata.context_window, pinned.metadata.num_output) == (7_000, 300)


def test_metadata_reads_openrouter_style_limits(emulator: Emulator) -> None:
    emulator.model_limits = {
        "gpt-4.1": {"context_length": 60_000, "top_provider": {"max_completion_tokens": 5_000}}
    }
    with RelayClient(api_key=TEST_API_KEY, base_url=emulator.base_url) as client:
        client.list_models()
    metadata = make_llm(emulator).metadata
    assert (metadata.context_window, metadata.num_output) == (60_000, 5_000)


# -- usage the relay left out -------------------------------------------------------------


@pytest.mark.parametrize("mode", ["stream-sync", "stream-async"])
def test_streams_without_usage_are_counted(emulator: Emulator, mode: str) -> None:
    ledger = UsageLedger()
    llm = make_llm(emulator, include_usage=False, on_usage=ledger)
    if mode == "stream-sync":
        *_, last = llm.stream_chat(MESSAGES)
    else:

        async def go() -> ChatResponse:
            responses: list[ChatResponse] = [r async for r in await llm.astream_chat(MESSAGES)]
            return responses[-1]

        last = asyncio.run(go())
    assert last.message.content == ANSWER
    assert all("stream_options" not in b for b in chat_bodies(emulator))
    assert ledger.total.requests == 1
    assert ledger.total.requests_without_usage == 1
    assert ledger.by_model["gpt-4.1"].requests_without_usage == 1
    assert "1 request(s) came back without usage" in ledger.report()


# -- a copy with another key --------------------------------------------------------------


def _assert_hidden(model: Any) -> None:
    assert isinstance(model.api_key, SecretStr)
    for text in (repr(model), str(model), str(model.model_dump()), model.model_dump_json()):
        assert NEW_KEY not in text


def test_llm_copy_sends_the_new_key(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    original = make_llm(emulator, max_retries=0)
    assert original.chat(MESSAGES).message.content == ANSWER
    monkeypatch.setattr(emulator, "api_key", NEW_KEY)  # the relay now accepts only the new key
    copy = original.model_copy(update={"api_key": NEW_KEY})
    assert copy.chat(MESSAGES).message.content == ANSWER
    assert respond(copy, "stream").message.content == ANSWER
    assert emulator.requests[-1].headers["authorization"] == f"Bearer {NEW_KEY}"
    with pytest.raises(AuthenticationError):
        original.chat(MESSAGES)  # the original keeps its own key
    assert emulator.requests[-1].headers["authorization"] == f"Bearer {TEST_API_KEY}"
    _assert_hidden(copy)


def test_embedding_copy_sends_the_new_key(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = HolySheepEmbedding(api_key=TEST_API_KEY, base_url=emulator.base_url, max_retries=0)
    assert original.get_text_embedding("hello")
    monkeypatch.setattr(emulator, "api_key", NEW_KEY)
    copy = original.model_copy(update={"api_key": NEW_KEY})
    assert copy.get_text_embedding_batch(["a", "b"])
    assert emulator.requests[-1].headers["authorization"] == f"Bearer {NEW_KEY}"
    with pytest.raises(AuthenticationError):
        original.get_text_embedding("hello")
    _assert_hidden(copy)


# -- the short-key warning ----------------------------------------------------------------


@pytest.mark.parametrize("cls", [HolySheep, HolySheepEmbedding])
def test_short_key_is_warned_about_exactly_once(
    emulator: Emulator, caplog: pytest.LogCaptureFixture, cls: type[Any]
) -> None:
    short = f"hs_{uuid.uuid4().hex[:12]}"  # 15 characters, never seen before in this process
    caplog.set_level(logging.WARNING)
    model = cls(api_key=short, base_url=emulator.base_url)
    if isinstance(model, HolySheep):
        model.chat(MESSAGES)
    else:
        model.get_text_embedding("hello")
    cls(api_key=short, base_url=emulator.base_url)  # the same key again
    warned = [r for r in caplog.records if "characters long" in r.getMessage()]
    assert len(warned) == 1
    assert short not in warned[0].getMessage()
