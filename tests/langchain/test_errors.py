"""Every emulator fault surfaces as the right typed error through invoke/ainvoke/stream/astream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langchain_core import exceptions as lc

import holysheep_relay
import langchain_holysheep as lh
from holysheep_relay.testing import Emulator
from langchain_holysheep import ChatHolySheep
from tests.langchain.helpers import call

PROMPT = "hello there you"

# (fault kind, fault params, core error, LangChain parent or None)
FAULTS: list[tuple[str, dict[str, Any], type[Exception], type[Exception] | None]] = [
    ("rate_limit", {"retry_after": 0}, lh.RateLimitError, lc.ModelRateLimitError),
    ("rate_limit", {"retry_after": 0, "body_style": "bare"}, lh.RateLimitError, None),
    ("rate_limit", {"retry_after": 0, "body_style": "anthropic"}, lh.RateLimitError, None),
    ("server_error", {"status": 503}, lh.ServerError, lc.ModelAPIError),
    ("html_error", {"status": 502}, lh.ServerError, lc.ModelAPIError),
    ("auth_error", {}, lh.AuthenticationError, lc.ModelAuthenticationError),
    ("forbidden", {}, lh.PermissionDeniedError, lc.ModelPermissionDeniedError),
    ("context_length", {}, lh.ContextLengthExceededError, lc.ContextOverflowError),
    ("status", {"status": 400}, lh.BadRequestError, lc.ModelInvalidRequestError),
    ("status", {"status": 418}, lh.APIStatusError, lc.ModelError),
    ("reset_before", {}, lh.RelayConnectionError, lc.ModelConnectionError),
    ("slow_headers", {"delay": 0.5}, lh.RelayTimeoutError, lc.ModelTimeoutError),
    ("malformed_chunk", {"after": 2}, lh.ProtocolError, lc.ModelAPIError),
    ("error_chunk", {"after": 2}, lh.ServerError, lc.ModelAPIError),
    ("error_chunk", {"after": 2, "style": "event"}, lh.ServerError, None),
    ("error_chunk", {"after": 2, "style": "finish_reason"}, lh.ServerError, None),
    ("truncated_stream", {"after": 3}, lh.RelayConnectionError, lc.ModelConnectionError),
    ("reset_during_stream", {"after": 3}, lh.RelayConnectionError, lc.ModelConnectionError),
    ("slow_stream", {"delay": 0.5, "after": 2}, lh.RelayTimeoutError, lc.ModelTimeoutError),
]


@pytest.mark.parametrize(
    ("kind", "params", "error", "parent"),
    FAULTS,
    ids=[f"{k}-{'-'.join(map(str, p.values()))}" for k, p, _, _ in FAULTS],
)
def test_fault_surfaces_as_typed_error(
    emulator: Emulator,
    make_llm: Callable[..., ChatHolySheep],
    mode: str,
    kind: str,
    params: dict[str, Any],
    error: type[Exception],
    parent: type[Exception] | None,
) -> None:
    emulator.add_fault(kind, **params)
    llm = make_llm(timeout=0.25)
    with pytest.raises(error) as info:
        call(mode, llm, PROMPT)
    exc = info.value
    assert isinstance(exc, holysheep_relay.RelayError)
    if parent is not None:
        assert isinstance(exc, parent)
    assert "hs_test_key" not in str(exc)
    assert emulator.attempts() == 1  # max_retries=0: exactly one request


@pytest.mark.parametrize("kind", ["truncated_stream", "reset_during_stream"])
def test_cut_stream_raises_stream_interrupted_with_partial_text(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep], stream_mode: str, kind: str
) -> None:
    emulator.add_fault(kind, after=3)
    with pytest.raises(lh.StreamInterruptedError) as info:
        call(stream_mode, make_llm(), PROMPT)
    assert info.value.partial_text == "Hello! You"


def test_in_stream_error_keeps_what_arrived(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep], stream_mode: str
) -> None:
    emulator.add_fault("error_chunk", after=2, style="event")
    with pytest.raises(lh.ServerError) as info:
        call(stream_mode, make_llm(), PROMPT)
    assert info.value.partial_text == "Hello!"
    assert info.value.request_id == f"req_{len(emulator.requests)}"


def test_rate_limit_carries_retry_after(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep], mode: str
) -> None:
    emulator.add_fault("rate_limit", retry_after=7)
    with pytest.raises(lh.RateLimitError) as info:
        call(mode, make_llm(), PROMPT)
    assert info.value.retry_after == 7
    assert info.value.status_code == 429


def test_unknown_model_is_model_not_found(
    make_llm: Callable[..., ChatHolySheep], mode: str
) -> None:
    with pytest.raises(lh.ModelNotFoundError) as info:
        call(mode, make_llm(model="claude-opus-4.6b"), PROMPT)
    assert isinstance(info.value, lc.ModelNotFoundError)
    assert "claude-opus-4.6" in info.value.suggestions


def test_retries_are_the_cores(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep], mode: str
) -> None:
    emulator.add_fault("rate_limit", retry_after=0, times=2)
    result = call(mode, make_llm(max_retries=2), PROMPT)
    assert result.content == "Hello! You said: hello there you"
    assert emulator.attempts() == 3  # one layer of retries, not the core's times LangChain's


@pytest.mark.parametrize(
    "kind", ["keepalive", "crlf", "split_bytes", "multi_line_data", "reject_stream_options"]
)
def test_quirky_but_valid_streams_work(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep], stream_mode: str, kind: str
) -> None:
    emulator.add_fault(kind)
    result = call(stream_mode, make_llm(), PROMPT)
    assert result.content == "Hello! You said: hello there you"
    if kind == "reject_stream_options":  # the core retried without stream_options
        assert "stream_options" not in (emulator.requests[-1].json or {})
    else:
        assert result.usage_metadata is not None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"temperature": 5}, "temperature"), ({"max_tokens": 0}, "max_tokens"), ({"n": "2"}, "n")],
)
def test_bad_parameters_fail_before_any_request(
    emulator: Emulator,
    make_llm: Callable[..., ChatHolySheep],
    mode: str,
    kwargs: dict[str, Any],
    match: str,
) -> None:
    with pytest.raises(lh.InvalidInputError, match=match):
        call(mode, make_llm().bind(**kwargs), PROMPT)
    assert emulator.requests == []


def test_errors_are_importable_from_the_package() -> None:
    for name in holysheep_relay.errors.__all__:
        if name[0].isupper():
            assert getattr(lh, name) is getattr(holysheep_relay, name)
