"""The fault matrix: every emulator fault against every entry point, one table.

For each (fault, entry point) the outcome is either the correct answer (a recoverable fault,
retried) or the documented typed error, and the number of attempts the relay saw is what
the retry policy promises: ``max_retries + 1`` for connect errors, resets before a reply,
408/409/429/5xx; exactly 1 for read timeouts, 4xx and anything that happens after the relay
said 200 (a started stream is never retried: it would bill twice). Streamed entry points
must also never lose or duplicate output: what they yielded before an error is exactly the
error's ``partial_text``, a prefix of the real answer.

``python -m tests.reliability.test_fault_matrix`` prints the table for docs/reliability.md.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from holysheep_relay import (
    AuthenticationError,
    BadRequestError,
    ProtocolError,
    RateLimitError,
    RelayConnectionError,
    RelayError,
    RelayTimeoutError,
    ServerError,
    StreamInterruptedError,
    Timeouts,
)
from holysheep_relay.testing import Emulator
from tests.emulator_fixtures import TEST_API_KEY

from .entrypoints import ENTRY_POINTS, EntryPoint, Target, core_chat, core_stream

MAX_RETRIES = 2
ALL = MAX_RETRIES + 1  # attempts when every retry is spent
FOREVER = 99  # a fault that outlasts every retry
SHORT = Timeouts(connect=1, read=0.3)  # for the slow-relay faults (delay 1 s)
HTML_PAGE = "<html><head><title>Sign in</title></head><body>captive portal</body></html>"


@dataclass(frozen=True)
class Outcome:
    """``error`` None: the correct answer. ``partial``: the error carries streamed text."""

    error: type[RelayError] | None
    attempts: int
    partial: bool = False
    says: str = ""  # the error message names the cause

    def __str__(self) -> str:
        what = "answer" if self.error is None else f"`{self.error.__name__}`"
        return f"{what}, {self.attempts}"


ANSWER = Outcome(None, ALL)


@dataclass(frozen=True)
class Fault:
    id: str
    description: str
    kind: str  # emulator fault kind ("refused": nothing listens on the port)
    chat: Outcome  # non-streamed entry points
    stream: Outcome  # streamed entry points
    times: int = FOREVER
    params: dict[str, Any] = field(default_factory=dict)
    timeout: Timeouts = field(default_factory=lambda: Timeouts(connect=1, read=5))


def _both(outcome: Outcome) -> dict[str, Outcome]:
    return {"chat": outcome, "stream": outcome}


def _status_rows() -> list[Fault]:
    rows = []
    for status in (500, 502, 503, 504):
        rows.append(
            Fault(
                f"{status}-json-then-ok",
                f"{status}, JSON body, twice then OK",
                "server_error",
                times=MAX_RETRIES,
                params={"status": status},
                **_both(ANSWER),
            )
        )
        rows.append(
            Fault(
                f"{status}-html-forever",
                f"{status}, HTML error page, every time",
                "html_error",
                params={"status": status},
                **_both(Outcome(ServerError, ALL, says=f"HTTP {status}: 502 Bad Gateway")),
            )
        )
    return rows


FAULTS: list[Fault] = [
    Fault(
        "429-retry-after-seconds",
        "429 `Retry-After: 0` (seconds), twice then OK",
        "rate_limit",
        times=MAX_RETRIES,
        params={"retry_after": 0},
        **_both(ANSWER),
    ),
    Fault(
        "429-retry-after-http-date",
        "429 `Retry-After: <HTTP date>`, twice then OK",
        "rate_limit",
        times=MAX_RETRIES,
        params={"retry_after": 0, "http_date": True},
        **_both(ANSWER),
    ),
    Fault(
        "429-forever",
        "429 every time",
        "rate_limit",
        params={"retry_after": 0},
        **_both(Outcome(RateLimitError, ALL, says="Rate limit exceeded")),
    ),
    *_status_rows(),
    Fault(
        "401",
        "401 bad key (never retried)",
        "auth_error",
        **_both(Outcome(AuthenticationError, 1, says="Authentication failed")),
    ),
    Fault(
        "400",
        "400 bad request (never retried)",
        "status",
        params={"status": 400},
        **_both(Outcome(BadRequestError, 1, says="HTTP 400")),
    ),
    Fault(
        "connection-refused",
        "connection refused (nothing listens)",
        "refused",
        **_both(Outcome(RelayConnectionError, ALL, says="could not reach the relay")),
    ),
    Fault(
        "reset-before-headers-then-ok",
        "connection reset before the headers, twice then OK",
        "reset_before",
        times=MAX_RETRIES,
        **_both(ANSWER),
    ),
    Fault(
        "reset-before-headers-forever",
        "connection reset before the headers, every time",
        "reset_before",
        **_both(Outcome(RelayConnectionError, ALL, says="could not reach the relay")),
    ),
    Fault(
        "slow-headers",
        "headers later than the read timeout (0.3 s)",
        "slow_headers",
        params={"delay": 1.0},
        timeout=SHORT,
        **_both(Outcome(RelayTimeoutError, 1, says="timed out (read)")),
    ),
    Fault(
        "idle-stream",
        "stream idle longer than the read timeout after 2 events (chat: reply delayed)",
        "slow_stream",
        params={"delay": 1.0, "after": 2},
        timeout=SHORT,
        chat=Outcome(RelayTimeoutError, 1, says="timed out (read)"),
        stream=Outcome(RelayTimeoutError, 1, partial=True, says="timed out (read)"),
    ),
    Fault(
        "cut-mid-stream",
        "connection reset after 2 events (chat: reset before the reply)",
        "reset_during_stream",
        params={"after": 2},
        chat=Outcome(RelayConnectionError, ALL, says="could not reach the relay"),
        stream=Outcome(StreamInterruptedError, 1, partial=True, says="lost mid-stream"),
    ),
    Fault(
        "truncated",
        "clean close without `[DONE]` after 2 events / non-streamed body shorter than "
        "its `Content-Length`",
        "truncated_stream",
        params={"after": 2},
        chat=Outcome(RelayConnectionError, 1, says="lost while reading its reply"),
        stream=Outcome(StreamInterruptedError, 1, partial=True, says="before it finished"),
    ),
    Fault(
        "malformed-chunk",
        "malformed JSON chunk after 2 events (chat: malformed JSON body)",
        "malformed_chunk",
        params={"after": 2},
        chat=Outcome(ProtocolError, 1, says="not valid JSON"),
        stream=Outcome(ProtocolError, 1, partial=True, says="malformed stream chunk"),
    ),
    Fault(
        "error-chunk",
        '`data: {"error": ...}` after 2 events (chat: 200 with an error body)',
        "error_chunk",
        params={"after": 2},
        chat=Outcome(ServerError, 1, says="upstream overloaded"),
        stream=Outcome(ServerError, 1, partial=True, says="upstream overloaded"),
    ),
    Fault(
        "error-event",
        "`event: error` after 2 events (chat: 200 with an error body)",
        "error_chunk",
        params={"after": 2, "style": "event"},
        chat=Outcome(ServerError, 1, says="upstream overloaded"),
        stream=Outcome(ServerError, 1, partial=True, says="upstream overloaded"),
    ),
    Fault(
        "finish-reason-error",
        '`finish_reason: "error"` after 2 events (chat: in the completion)',
        "error_chunk",
        params={"after": 2, "style": "finish_reason"},
        chat=Outcome(ServerError, 1, partial=True, says="finish_reason='error'"),
        stream=Outcome(ServerError, 1, partial=True, says="finish_reason='error'"),
    ),
    Fault(
        "wrong-content-type",
        "200 `text/html` page instead of JSON / an event stream",
        "status",
        params={"status": 200, "body": HTML_PAGE, "content_type": "text/html"},
        chat=Outcome(ProtocolError, 1, says="not valid JSON"),
        stream=Outcome(ProtocolError, 1, says="text/html instead of an event stream"),
    ),
    Fault(
        "json-error-with-200",
        "200 `application/json` error object instead of a completion / an event stream",
        "status",
        params={"status": 200, "body": {"error": {"message": "upstream down", "type": "x"}}},
        **_both(Outcome(ServerError, 1, says="upstream down")),
    ),
]


def _retries_logged(records: list[logging.LogRecord]) -> int:
    return sum(1 for r in records if r.getMessage().startswith("retrying after"))


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=str)
@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.id)
def test_fault_matrix(
    fault: Fault,
    entry: EntryPoint,
    emulator: Emulator,
    refused_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcome = fault.stream if entry.streaming else fault.chat
    if fault.kind == "refused":
        base_url = refused_url
    else:
        base_url = emulator.base_url
        emulator.add_fault(fault.kind, times=fault.times, **fault.params)
    target = Target(base_url, max_retries=MAX_RETRIES, timeout=fault.timeout)
    sink: list[str] = []
    with caplog.at_level(logging.DEBUG, logger="holysheep_relay"):
        if outcome.error is None:
            assert entry.run(target, sink) == target.expected
            if entry.streaming:  # nothing lost, nothing repeated
                assert "".join(sink) == target.expected
        else:
            with pytest.raises(outcome.error) as caught:
                entry.run(target, sink)
            error = caught.value
            # the most specific class (adapters may add a framework parent of the same name)
            assert type(error).__name__ == outcome.error.__name__, repr(error)
            assert outcome.says in error.message, error.message
            assert TEST_API_KEY not in str(error)
            assert target.expected.startswith(error.partial_text)
            assert bool(error.partial_text) is outcome.partial, repr(error.partial_text)
            if entry.streaming:  # the user saw exactly what the error says arrived
                assert "".join(sink) == error.partial_text
    retries = _retries_logged(caplog.records)
    assert retries + 1 == outcome.attempts
    if fault.kind != "refused":
        assert emulator.attempts() == outcome.attempts
    assert TEST_API_KEY not in caplog.text


@pytest.mark.parametrize("entry", [core_chat, core_stream], ids=["chat", "stream_chat"])
@pytest.mark.parametrize("http_date", [False, True], ids=["seconds", "http-date"])
def test_a_future_retry_after_is_waited_for(
    entry: Any, http_date: bool, emulator: Emulator
) -> None:
    # 2 s from now; an HTTP date has whole seconds, so the real wait is in (1, 2] s
    emulator.add_fault("rate_limit", retry_after=2 if http_date else 1, http_date=http_date)
    target = Target(emulator.base_url, max_retries=1)
    started = time.monotonic()
    assert entry(target, []) == target.expected
    assert time.monotonic() - started >= 0.9
    assert emulator.attempts() == 2


def matrix_markdown() -> str:
    """The matrix as a Markdown table (same outcome for every entry point of a kind)."""
    lines = [
        "| fault | emulator kind | non-streamed: outcome, attempts | streamed: outcome, attempts |",
        "| --- | --- | --- | --- |",
    ]
    for fault in FAULTS:
        chat, stream = str(fault.chat), str(fault.stream)
        if fault.stream.partial:
            stream += " (`partial_text`)"
        if fault.chat.partial:
            chat += " (`partial_text`)"
        kind = "(an unused port)" if fault.kind == "refused" else f"`{fault.kind}`"
        lines.append(f"| {fault.description} | {kind} | {chat} | {stream} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(matrix_markdown())
