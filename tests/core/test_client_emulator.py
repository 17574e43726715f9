"""The core against the loopback emulator: every injected fault, sync and async."""

from __future__ import annotations

import json
from typing import Any

import pytest

from holysheep_relay import (
    AuthenticationError,
    ContextLengthExceededError,
    ModelNotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    RelayConnectionError,
    RelayTimeoutError,
    ServerError,
    StreamInterruptedError,
    Timeouts,
)
from holysheep_relay.testing import Emulator, count_tokens

from .helpers import Runner

both = pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
PROMPT = [{"role": "user", "content": "please say something long enough to stream"}]
EXPECTED = "Hello! You said: please say something long enough to stream"


def runner(sync: bool, emulator: Emulator, **kw: Any) -> Runner:
    return Runner(sync, base_url=emulator.base_url, **kw)


@both
def test_plain_chat_and_stream_agree(sync: bool, emulator: Emulator) -> None:
    r = runner(sync, emulator)
    reply = r.chat(model="gpt-4.1", messages=PROMPT)
    _, result = r.stream(model="gpt-4.1", messages=PROMPT)
    assert reply.content == result.content == EXPECTED
    assert reply.usage == result.usage
    assert result.usage is not None
    assert result.usage.completion_tokens == count_tokens(EXPECTED)
    assert reply.request_id
    assert result.request_id
    assert reply.request_id != result.request_id


@both
@pytest.mark.parametrize(
    "kind", ["keepalive", "crlf", "split_bytes", "multi_line_data", "repeated_usage"]
)
def test_stream_framing_variants_fold_to_the_same_result(
    sync: bool, emulator: Emulator, kind: str
) -> None:
    messages = [{"role": "user", "content": "héllo wörld 世界 🐑 again"}]
    _, baseline = runner(sync, emulator).stream(messages=messages)
    emulator.add_fault(kind)
    chunks, result = runner(sync, emulator).stream(messages=messages)
    assert result.content == baseline.content
    assert result.usage == baseline.usage  # repeated running totals counted once
    assert len(chunks) >= 3


@both
@pytest.mark.parametrize("kind", ["tool_index_shared", "tool_index_missing", "tool_repeat_id_name"])
def test_tool_call_delta_quirks(sync: bool, emulator: Emulator, kind: str) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "add",
                "parameters": {
                    "type": "object",
                    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                    "required": ["a", "b"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": "multiply",
                "parameters": {
                    "type": "object",
                    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                    "required": ["a", "b"],
                },
            },
        },
    ]
    messages = [{"role": "user", "content": "add 2 and 3, then multiply 4 by 5"}]
    _, baseline = runner(sync, emulator).stream(messages=messages, tools=tools)
    emulator.add_fault(kind)
    _, result = runner(sync, emulator).stream(messages=messages, tools=tools)
    assert result.finish_reason == "tool_calls"
    got = [(t.id, t.function.name, json.loads(t.function.arguments)) for t in result.tool_calls]
    want = [(t.id, t.function.name, json.loads(t.function.arguments)) for t in baseline.tool_calls]
    assert [g[1:] for g in got] == [w[1:] for w in want]
    assert all(g[0].startswith("call_") for g in got)
    assert len({g[0] for g in got}) == len(got)


@both
def test_rate_limit_is_retried_honouring_retry_after(sync: bool, emulator: Emulator) -> None:
    emulator.add_fault("rate_limit", retry_after=0, times=2)
    assert runner(sync, emulator).chat(messages=PROMPT).content == EXPECTED
    assert emulator.attempts() == 3


@both
@pytest.mark.parametrize("style", ["openai", "bare", "anthropic"])
def test_rate_limit_exhausted_raises_typed_error(
    sync: bool, emulator: Emulator, style: str
) -> None:
    emulator.add_fault("rate_limit", retry_after=0, times=3, body_style=style)
    with pytest.raises(RateLimitError) as info:
        runner(sync, emulator, max_retries=2).stream(messages=PROMPT)
    assert info.value.retry_after == 0
    assert info.value.status_code == 429
    assert info.value.request_id
    assert emulator.attempts() == 3


@both
@pytest.mark.parametrize(
    ("kind", "params", "error", "attempts"),
    [
        ("server_error", {"status": 503}, ServerError, 3),
        ("html_error", {"status": 502}, ServerError, 3),
        ("auth_error", {}, AuthenticationError, 1),
        ("forbidden", {}, PermissionDeniedError, 1),
        ("context_length", {}, ContextLengthExceededError, 1),
        ("status", {"status": 408, "body": {"error": {"message": "timeout"}}}, Exception, 3),
        ("status", {"status": 409, "body": {"error": {"message": "conflict"}}}, Exception, 3),
        ("reset_before", {}, RelayConnectionError, 3),
    ],
)
def test_error_faults_map_to_typed_errors_with_right_attempts(
    sync: bool,
    emulator: Emulator,
    kind: str,
    params: dict[str, Any],
    error: type[Exception],
    attempts: int,
) -> None:
    for call in ("chat", "stream"):
        emulator.reset()
        emulator.add_fault(kind, times=10, **params)
        with pytest.raises(error):
            getattr(runner(sync, emulator, max_retries=2), call)(messages=PROMPT)
        assert emulator.attempts() == attempts, call


@both
@pytest.mark.parametrize("kind", ["server_error", "html_error", "reset_before"])
def test_transient_faults_recover(sync: bool, emulator: Emulator, kind: str) -> None:
    emulator.add_fault(kind, times=1)
    _, result = runner(sync, emulator).stream(messages=PROMPT)
    assert result.content == EXPECTED
    assert emulator.attempts() == 2


@both
def test_unknown_model_suggests(sync: bool, emulator: Emulator) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        runner(sync, emulator).chat(model="claude-opus-4.6b", messages=PROMPT)
    assert "claude-opus-4.6" in info.value.suggestions
    assert emulator.attempts() == 1


@both
@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("reset_during_stream", StreamInterruptedError),
        ("truncated_stream", StreamInterruptedError),
        ("malformed_chunk", ProtocolError),
        ("error_chunk", ServerError),
    ],
)
def test_mid_stream_faults_raise_keep_partial_text_and_are_not_retried(
    sync: bool, emulator: Emulator, kind: str, error: type[Exception]
) -> None:
    emulator.add_fault(kind, after=3, times=5)
    with pytest.raises(error) as info:
        runner(sync, emulator).stream(messages=PROMPT)
    partial = info.value.partial_text  # type: ignore[attr-defined]
    assert partial
    assert EXPECTED.startswith(partial)
    assert partial != EXPECTED
    assert emulator.attempts() == 1  # content was delivered: a retry would bill twice


@both
@pytest.mark.parametrize("style", ["finish_reason", "event"])
def test_error_chunk_styles(sync: bool, emulator: Emulator, style: str) -> None:
    emulator.add_fault("error_chunk", after=2, style=style)
    with pytest.raises(ServerError):
        runner(sync, emulator).stream(messages=PROMPT)


@both
def test_stream_options_rejection_falls_back(sync: bool, emulator: Emulator) -> None:
    emulator.reject_stream_options = True
    _, result = runner(sync, emulator).stream(messages=PROMPT, calls=2)
    assert result.content == EXPECTED
    sent = [("stream_options" in (r.json or {})) for r in emulator.requests]
    assert sent == [True, False, False]


@both
def test_slow_headers_hit_the_read_timeout_and_are_not_retried(
    sync: bool, emulator: Emulator
) -> None:
    emulator.add_fault("slow_headers", delay=0.6)
    with pytest.raises(RelayTimeoutError, match="read"):
        runner(sync, emulator, timeout=Timeouts(connect=1, read=0.2)).chat(messages=PROMPT)
    assert emulator.attempts() == 1


@both
def test_idle_gap_mid_stream_is_a_timeout_with_partial_text(sync: bool, emulator: Emulator) -> None:
    emulator.add_fault("slow_stream", delay=0.6, after=2)
    with pytest.raises(RelayTimeoutError) as info:
        runner(sync, emulator, timeout=Timeouts(connect=1, read=0.2)).stream(messages=PROMPT)
    assert info.value.partial_text


@both
def test_total_deadline_bounds_a_stream(sync: bool, emulator: Emulator) -> None:
    emulator.add_fault("slow_stream", delay=0.15, after=1)
    with pytest.raises(RelayTimeoutError, match="deadline"):
        runner(sync, emulator, timeout=Timeouts(read=5, total=0.3)).stream(messages=PROMPT)


@both
def test_streams_reuse_one_pooled_connection(sync: bool, emulator: Emulator) -> None:
    runner(sync, emulator).stream(messages=PROMPT, calls=5)
    assert emulator.attempts() == 5
    assert emulator.connections_opened == 1


@both
def test_models_and_embeddings(sync: bool, emulator: Emulator) -> None:
    r = runner(sync, emulator)
    ids = [m.id for m in r.models()]
    assert "gpt-4.1" in ids
    assert "deepseek-v3.2" in ids
    result = r.embed(input=["the cat sat", "the cat sat", "quantum physics"], dimensions=16)
    assert len(result.vectors) == 3
    assert len(result.vectors[0]) == 16
    assert result.vectors[0] == result.vectors[1] != result.vectors[2]
    assert emulator.requests[-1].json["encoding_format"] == "float"  # type: ignore[index]


@both
def test_reasoning_and_cached_tokens_flow_through(sync: bool, emulator: Emulator) -> None:
    r = runner(sync, emulator)
    reply = r.chat(
        model="deepseek-reasoner", messages=PROMPT, extra_body={"emulator_cached_tokens": 4}
    )
    _, result = r.stream(model="deepseek-reasoner", messages=PROMPT)
    assert reply.choices[0].message.reasoning_content
    assert result.reasoning_content == reply.choices[0].message.reasoning_content
    assert reply.usage is not None
    assert reply.usage.cached_tokens == 4
    assert result.usage is not None
    assert result.usage.reasoning_tokens > 0
