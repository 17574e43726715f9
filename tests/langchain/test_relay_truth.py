"""ChatHolySheep / HolySheepEmbeddings treat the relay as the source of truth (emulator).

Model ids as written, the relay's /models limits in ``profile``, typed context overflow,
error frames retried before content, usage the relay left out counted, and the adapter
settings added with them: ``pricing=``, a core ``rate_limiter=``, ``model_copy`` of the key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.exceptions import ContextOverflowError, ModelRateLimitError
from langchain_core.rate_limiters import InMemoryRateLimiter
from pydantic import SecretStr

from holysheep_relay import (
    AuthenticationError,
    ContextLengthExceededError,
    RateLimiter,
    RateLimitError,
    RelayClient,
    UsageEvent,
    get_model_spec,
)
from holysheep_relay.testing import Emulator
from langchain_holysheep import ChatHolySheep, HolySheepEmbeddings, get_holysheep_callback
from tests.core.test_error_classification import GEMINI, LITELLM, reference_response
from tests.langchain.helpers import KEY, collect

MakeLLM = Callable[..., ChatHolySheep]
NEW_KEY = "hs_fake_other_key_0123456789"
PROMPT = "hi there"
ANSWER = f"Hello! You said: {PROMPT}"


def run(llm: ChatHolySheep, mode: str, prompt: str = PROMPT) -> Any:
    return llm.invoke(prompt) if mode == "invoke" else collect(llm.stream(prompt))


def chat_bodies(emulator: Emulator) -> list[dict[str, Any]]:
    return [r.json or {} for r in emulator.requests if r.path == "/chat/completions"]


# -- model ids as written ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["invoke", "stream"])
@pytest.mark.parametrize("model", ["deepseek-chat", "claude-sonnet-4-5", "sonnet-4"])
def test_model_id_is_sent_as_written(
    emulator: Emulator, make_llm: MakeLLM, monkeypatch: pytest.MonkeyPatch, mode: str, model: str
) -> None:
    monkeypatch.setattr(emulator, "models", [*emulator.models, model])
    reply = run(make_llm(model=model), mode)
    assert [b["model"] for b in chat_bodies(emulator)] == [model]
    assert reply.content == ANSWER
    assert reply.response_metadata["model_name"] == model


@pytest.mark.parametrize("model", ["deepseek-chat", "claude-sonnet-4-5", "sonnet-4"])
def test_embedding_model_id_is_sent_as_written(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, model: str
) -> None:
    monkeypatch.setattr(emulator, "models", [*emulator.models, model])
    embeddings = HolySheepEmbeddings(model=model, api_key=KEY, base_url=emulator.base_url)
    assert embeddings.embed_query("hello")
    assert [r.json["model"] for r in emulator.requests if r.json] == [model]


# -- errors -----------------------------------------------------------------------------


def _anthropic_prompt_too_long() -> Any:
    return reference_response("anthropic/exchanges/ant-error-400-prompt-too-long.json")[2]


@pytest.mark.parametrize("mode", ["invoke", "stream"])
@pytest.mark.parametrize(
    "body",
    [lambda: GEMINI, lambda: LITELLM, _anthropic_prompt_too_long],
    ids=["gemini", "litellm", "anthropic"],
)
def test_context_overflow_is_langchains_too(
    emulator: Emulator, make_llm: MakeLLM, mode: str, body: Callable[[], Any]
) -> None:
    emulator.add_fault("status", status=400, body=body())
    with pytest.raises(ContextOverflowError) as info:
        run(make_llm(), mode)
    assert isinstance(info.value, ContextLengthExceededError)
    assert info.value.status_code == 400
    assert emulator.attempts() == 1


LITELLM_429_FRAME = {
    "error": {
        "message": "litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached",
        "type": "throttling_error",
        "code": "429",
    },
    "retry_after": 0,  # the frame's own hint: no real waiting in tests
}


def test_error_frame_before_content_is_retried_in_stream(
    emulator: Emulator, make_llm: MakeLLM
) -> None:
    emulator.add_fault("error_chunk", after=1, error=LITELLM_429_FRAME, done=True)
    reply = collect(make_llm(max_retries=2).stream(PROMPT))
    assert reply.content == ANSWER
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["total_tokens"] > 0
    assert emulator.attempts() == 2


def test_error_frame_after_content_is_raised_from_stream(
    emulator: Emulator, make_llm: MakeLLM
) -> None:
    emulator.add_fault("error_chunk", after=3, error=LITELLM_429_FRAME, done=True)
    with pytest.raises(ModelRateLimitError) as info:
        collect(make_llm(max_retries=2).stream(PROMPT))
    assert isinstance(info.value, RateLimitError)
    assert info.value.status_code == 429
    assert info.value.partial_text
    assert ANSWER.startswith(info.value.partial_text)
    assert emulator.attempts() == 1


# -- the relay's own limits -------------------------------------------------------------


def test_profile_follows_the_relays_listing(emulator: Emulator, make_llm: MakeLLM) -> None:
    spec = get_model_spec("gpt-4.1")
    before = make_llm()
    assert before.profile is not None
    assert before.profile["max_input_tokens"] == spec.context_window == 1_047_576
    emulator.model_limits = {"gpt-4.1": {"max_input_tokens": 50_000, "max_output_tokens": 4_000}}
    with RelayClient(api_key=KEY, base_url=emulator.base_url) as client:
        client.list_models()
    same_relay = emulator.base_url.removesuffix("/v1")  # spelled differently, normalised
    unversioned = ChatHolySheep(model="gpt-4.1", api_key=KEY, base_url=same_relay)
    for after in (make_llm(), unversioned):
        assert after.profile is not None
        assert after.profile["max_input_tokens"] == 50_000
        assert after.profile["max_output_tokens"] == 4_000
    other = make_llm(model="gpt-5.4")  # listed without limits: the catalog's figures
    assert other.profile is not None
    assert other.profile["max_input_tokens"] == get_model_spec("gpt-5.4").context_window


# -- missing usage ----------------------------------------------------------------------


def test_streams_without_usage_are_counted_by_the_callback(
    emulator: Emulator, make_llm: MakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="holysheep_relay")
    llm = make_llm(stream_usage=False)
    with get_holysheep_callback() as cb:
        for _ in range(2):
            reply = collect(llm.stream(PROMPT))
            assert reply.content == ANSWER
    assert all("stream_options" not in b for b in chat_bodies(emulator))
    assert cb.ledger.total.requests == 2
    assert cb.ledger.total.requests_without_usage == 2
    assert "2 request(s) came back without usage" in cb.report()
    warned = [r for r in caplog.records if "no usage" in r.getMessage()]
    assert len(warned) == 1  # once for the model, not once per stream
    assert warned[0].levelno == logging.WARNING


# -- pricing, rate limiters, a copy with another key ------------------------------------


@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_pricing_overrides_the_cost(emulator: Emulator, make_llm: MakeLLM, mode: str) -> None:
    events: list[UsageEvent] = []
    default = run(make_llm(), mode)
    priced = run(
        make_llm(pricing={"gpt-4.1": {"input": 1000.0, "output": 0.0}}, on_usage=events.append),
        mode,
    )
    assert priced.usage_metadata is not None
    expected = priced.usage_metadata["input_tokens"] * 1000.0 / 1_000_000
    assert priced.response_metadata["cost_usd"] == pytest.approx(expected)
    assert default.response_metadata["cost_usd"] != pytest.approx(expected)
    assert [e.model for e in events] == ["gpt-4.1"]
    assert events[0].cost_usd == pytest.approx(expected)


def test_core_rate_limiter_is_used_by_the_relay_client(
    emulator: Emulator, make_llm: MakeLLM
) -> None:
    limiter = RateLimiter(requests_per_minute=2, clock=lambda: 1000.0)  # a frozen clock
    llm = make_llm(rate_limiter=limiter)
    assert llm.relay_rate_limiter is limiter
    assert llm.rate_limiter is None  # not handed to LangChain's own limiter hook
    llm.invoke(PROMPT)
    collect(llm.stream(PROMPT))
    # both requests were charged: the next one must wait for the window
    assert limiter.reserve().wait == pytest.approx(60.25)
    assert emulator.attempts() == 2


def test_langchain_rate_limiter_still_works(emulator: Emulator, make_llm: MakeLLM) -> None:
    limiter = InMemoryRateLimiter(requests_per_second=0.001, max_bucket_size=5)
    limiter.available_tokens = 2.0  # pre-filled: acquire() returns without polling
    llm = make_llm(rate_limiter=limiter)
    assert llm.rate_limiter is limiter
    assert llm.relay_rate_limiter is None
    assert llm.invoke(PROMPT).content == ANSWER
    assert limiter.available_tokens == pytest.approx(1.0, abs=0.01)


def _assert_hidden(model: Any) -> None:
    assert isinstance(model.api_key, SecretStr)
    for text in (repr(model), str(model), str(model.model_dump()), model.model_dump_json()):
        assert NEW_KEY not in text


def test_chat_model_copy_sends_the_new_key(
    emulator: Emulator, make_llm: MakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = make_llm()
    original.invoke(PROMPT)  # a pooled client exists for the old key
    monkeypatch.setattr(emulator, "api_key", NEW_KEY)  # the relay now accepts only the new key
    copy = original.model_copy(update={"api_key": NEW_KEY})
    assert copy.invoke(PROMPT).content == ANSWER
    assert collect(copy.stream(PROMPT)).content == ANSWER
    assert emulator.requests[-1].headers["authorization"] == f"Bearer {NEW_KEY}"
    with pytest.raises(AuthenticationError):
        original.invoke(PROMPT)  # the original keeps its own key
    assert emulator.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    _assert_hidden(copy)


def test_embeddings_copy_sends_the_new_key(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = HolySheepEmbeddings(
        model="text-embedding-3-small", api_key=KEY, base_url=emulator.base_url, max_retries=0
    )
    assert original.embed_query("hello")
    monkeypatch.setattr(emulator, "api_key", NEW_KEY)
    copy = original.model_copy(update={"api_key": NEW_KEY})
    assert copy.embed_documents(["a", "b"])
    assert emulator.requests[-1].headers["authorization"] == f"Bearer {NEW_KEY}"
    with pytest.raises(AuthenticationError):
        original.embed_query("hello")
    _assert_hidden(copy)
