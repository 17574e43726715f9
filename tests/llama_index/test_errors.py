"""Every emulator fault surfaces as the core's typed error, through chat and stream_chat,
sync and async, after exactly ``max_retries + 1`` attempts when it is retryable (one retry
layer: the core's), after one attempt when it is not."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.llms import ChatMessage

from holysheep_relay import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ContextLengthExceededError,
    InvalidInputError,
    ModelNotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    RelayConnectionError,
    RelayError,
    RelayTimeoutError,
    ServerError,
    StreamInterruptedError,
)
from holysheep_relay.testing import Emulator
from tests.llama_index.conftest import MODES, SECRET_KEY, make_llm, run, user

MAX_RETRIES = 2
RETRIED = MAX_RETRIES + 1

# kind, fault params, error, attempts -- the same for chat and stream (fails before a byte)
BEFORE_REPLY: list[tuple[str, dict[str, Any], type[RelayError], int]] = [
    ("rate_limit", {"retry_after": 0}, RateLimitError, RETRIED),
    ("rate_limit", {"retry_after": 0, "body_style": "bare"}, RateLimitError, RETRIED),
    ("rate_limit", {"retry_after_ms": 1, "body_style": "anthropic"}, RateLimitError, RETRIED),
    ("server_error", {}, ServerError, RETRIED),
    ("server_error", {"status": 503}, ServerError, RETRIED),
    ("html_error", {}, ServerError, RETRIED),
    ("status", {"status": 400}, BadRequestError, 1),
    ("status", {"status": 409}, APIStatusError, RETRIED),
    ("auth_error", {}, AuthenticationError, 1),
    ("forbidden", {}, PermissionDeniedError, 1),
    ("context_length", {}, ContextLengthExceededError, 1),
    ("reset_before", {}, RelayConnectionError, RETRIED),
    ("slow_headers", {"delay": 1.5}, RelayTimeoutError, 1),
]

# stream-only faults: the relay already said 200, so nothing is retried
MID_STREAM: list[tuple[str, dict[str, Any], type[RelayError]]] = [
    ("reset_during_stream", {"after": 2}, StreamInterruptedError),
    ("truncated_stream", {"after": 2}, StreamInterruptedError),
    ("malformed_chunk", {"after": 2}, ProtocolError),
    ("error_chunk", {"after": 2}, ServerError),
    ("error_chunk", {"after": 2, "style": "event"}, ServerError),
    ("slow_stream", {"delay": 1.5, "after": 1}, RelayTimeoutError),
]

# the same faults against a non-streamed request (the emulator degrades the JSON reply)
MID_STREAM_AS_CHAT: list[tuple[str, dict[str, Any], type[RelayError], int]] = [
    ("reset_during_stream", {}, RelayConnectionError, RETRIED),
    ("truncated_stream", {}, RelayConnectionError, 1),
    ("malformed_chunk", {}, ProtocolError, 1),
    ("error_chunk", {}, ServerError, 1),
    ("slow_stream", {"delay": 1.5}, RelayTimeoutError, 1),
]


def _llm(emulator: Emulator, kind: str = "", **kw: Any) -> Any:
    # a short read timeout only where the fault is a slow relay (delay 1.5 s > 0.5 s)
    timeout = 0.5 if kind.startswith("slow_") else None
    return make_llm(emulator, max_retries=MAX_RETRIES, timeout=timeout, **kw)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("kind", "params", "error", "attempts"), BEFORE_REPLY)
async def test_faults_before_the_reply(
    emulator: Emulator,
    mode: str,
    kind: str,
    params: dict[str, Any],
    error: type[RelayError],
    attempts: int,
) -> None:
    emulator.add_fault(kind, times=RETRIED, **params)
    with pytest.raises(error) as caught:
        await run(_llm(emulator, kind), mode, user())
    assert emulator.attempts() == attempts
    assert type(caught.value) is error  # the most specific class, not just a parent


@pytest.mark.parametrize("mode", MODES)
async def test_a_retried_fault_that_clears_succeeds(emulator: Emulator, mode: str) -> None:
    emulator.add_fault("rate_limit", times=MAX_RETRIES, retry_after=0)
    result = await run(_llm(emulator), mode, user())
    assert result.final.message.content.startswith("Hello!")
    assert emulator.attempts() == RETRIED


@pytest.mark.parametrize("mode", ["stream-sync", "stream-async"])
@pytest.mark.parametrize(("kind", "params", "error"), MID_STREAM)
async def test_faults_mid_stream_are_typed_and_not_retried(
    emulator: Emulator, mode: str, kind: str, params: dict[str, Any], error: type[RelayError]
) -> None:
    emulator.add_fault(kind, **params)
    with pytest.raises(error) as caught:
        await run(_llm(emulator, kind), mode, user("one two three four five six seven"))
    assert emulator.attempts() == 1
    assert isinstance(caught.value.partial_text, str)


@pytest.mark.parametrize("mode", ["chat-sync", "chat-async"])
@pytest.mark.parametrize(("kind", "params", "error", "attempts"), MID_STREAM_AS_CHAT)
async def test_stream_faults_against_plain_chat(
    emulator: Emulator,
    mode: str,
    kind: str,
    params: dict[str, Any],
    error: type[RelayError],
    attempts: int,
) -> None:
    emulator.add_fault(kind, times=RETRIED, **params)
    with pytest.raises(error):
        await run(_llm(emulator, kind), mode, user())
    assert emulator.attempts() == attempts


@pytest.mark.parametrize("mode", ["stream-sync", "stream-async"])
@pytest.mark.parametrize(
    "kind", ["keepalive", "crlf", "split_bytes", "repeated_usage", "multi_line_data"]
)
async def test_benign_framing_quirks_give_the_clean_answer(
    emulator: Emulator, mode: str, kind: str
) -> None:
    clean = (await run(_llm(emulator), mode, user())).final
    emulator.add_fault(kind)
    quirky = (await run(_llm(emulator), mode, user())).final
    assert quirky.message.content == clean.message.content
    assert quirky.raw["usage"] == clean.raw["usage"]
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert quirky.additional_kwargs[key] == clean.additional_kwargs[key]


@pytest.mark.parametrize("mode", MODES)
async def test_unknown_model_is_a_model_not_found_error(emulator: Emulator, mode: str) -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        await run(_llm(emulator, model="claude-opus"), mode, user())
    assert emulator.attempts() == 1
    assert caught.value.suggestions


@pytest.mark.parametrize("mode", MODES)
async def test_bad_input_fails_before_any_request(emulator: Emulator, mode: str) -> None:
    orphan_tool_result = [ChatMessage(role="tool", content="7")]  # no tool_call_id
    with pytest.raises(InvalidInputError):
        await run(_llm(emulator), mode, orphan_tool_result)
    with pytest.raises(InvalidInputError):
        await run(_llm(emulator, temperature=1.0), mode, user(), temperature=5)
    assert emulator.requests == []


@pytest.mark.parametrize("mode", MODES)
async def test_errors_never_carry_the_key(emulator: Emulator, mode: str) -> None:
    from llama_index_holysheep import HolySheep

    emulator.api_key = "hs_fake_only_valid_key_000000000"
    try:
        llm = HolySheep(api_key=SECRET_KEY, base_url=emulator.base_url)
        with pytest.raises(AuthenticationError) as caught:
            await run(llm, mode, user())
    finally:
        emulator.api_key = None
    assert SECRET_KEY not in str(caught.value)
    assert SECRET_KEY not in repr(caught.value)
    assert SECRET_KEY not in str(caught.value.body)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("max_retries", [0, 1, 4])
async def test_attempts_are_max_retries_plus_one(
    emulator: Emulator, mode: str, max_retries: int
) -> None:
    emulator.add_fault("server_error", times=10)
    with pytest.raises(ServerError):
        await run(make_llm(emulator, max_retries=max_retries), mode, user())
    assert emulator.attempts() == max_retries + 1  # one retry layer: the core's
