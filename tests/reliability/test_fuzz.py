"""Properties of the stream path and of request building, checked with hypothesis.

- Re-chunking: any split of a recorded stream into reads (the real OpenAI streams in
  ``../shared/reference/openai/exchanges/*.sse`` when present, plus emulator streams with
  every framing and tool-call quirk) folds to the identical chunks and result, sync and
  async.
- Garbage: arbitrary bytes, or garbage events spliced into a real stream, only ever raise
  the library's typed errors: ``ProtocolError`` for an event that is not a chunk, the
  in-stream error class for an ``{"error": ...}`` object, ``StreamInterruptedError`` for a
  body that never finishes. Never ``TypeError``, ``KeyError``, ``UnicodeError``...
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from holysheep_relay import (
    AsyncRelayClient,
    ProtocolError,
    RelayClient,
    RelayError,
    StreamInterruptedError,
    StreamResult,
)
from holysheep_relay.errors import APIStatusError
from holysheep_relay.testing._chat import plan_chat, stream_chunks
from holysheep_relay.testing._faults import Fault
from holysheep_relay.testing._stream import build_script

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "openai"
MESSAGES = [{"role": "user", "content": "x"}]
SSE = {"content-type": "text/event-stream"}


# -- the corpus --------------------------------------------------------------------------


def _emulator_stream(body: dict[str, Any], fault: str | None = None) -> bytes:
    ids = itertools.count(1)
    plan = plan_chat(body, "chatcmpl-fuzz", lambda: f"call_{next(ids)}")
    variant = fault if fault and fault.startswith(("tool_", "repeated")) else None
    chunks = stream_chunks(plan, include_usage=True, variant=variant)
    script = build_script(chunks, Fault(fault, None, {}) if fault else None)
    return b"".join(script.events)


def _tool(name: str) -> dict[str, Any]:
    props = {"city": {"type": "string"}, "days": {"type": "integer"}}
    return {
        "type": "function",
        "function": {
            "name": name,
            "parameters": {"type": "object", "properties": props, "required": list(props)},
        },
    }


def corpus() -> dict[str, bytes]:
    streams: dict[str, bytes] = {}
    if REFERENCE.is_dir():
        for path in sorted((REFERENCE / "exchanges").glob("*.sse")):
            streams[f"openai:{path.stem}"] = path.read_bytes()
    text = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "héllo wörld 世界 🐑 ok"}]}
    tools = {
        "model": "gpt-4.1",
        "messages": [{"role": "user", "content": "use weather and clock for Paris in 3 days"}],
        "tools": [_tool("weather"), _tool("clock")],
    }
    reasoning = {**text, "model": "deepseek-reasoner"}
    streams["emulator:text"] = _emulator_stream(text)
    streams["emulator:reasoning"] = _emulator_stream(reasoning)
    streams["emulator:parallel-tools"] = _emulator_stream(tools)
    for fault in ("crlf", "multi_line_data", "keepalive", "repeated_usage"):
        streams[f"emulator:text+{fault}"] = _emulator_stream(text, fault)
    for fault in ("tool_index_shared", "tool_index_missing", "tool_repeat_id_name", "crlf"):
        streams[f"emulator:tools+{fault}"] = _emulator_stream(tools, fault)
    return streams


CORPUS = corpus()


def test_the_corpus_has_the_real_openai_streams_when_they_are_present() -> None:
    real = [name for name in CORPUS if name.startswith("openai:")]
    if not REFERENCE.is_dir():
        pytest.skip(f"no reference exchanges at {REFERENCE}; emulator streams only")
    assert len(real) >= 5
    assert len(CORPUS) >= len(real) + 10


# -- a stream client fed exact reads -------------------------------------------------------


class _Reads(httpx.SyncByteStream, httpx.AsyncByteStream):
    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        yield from self.pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


class Feeder:
    """One sync and one async client whose relay answers with ``pieces``, read by read."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.headers = SSE
        transport = httpx.MockTransport(self._reply)
        kw = {"api_key": "hs_fake_fuzz_key_0123456789abcdef", "base_url": "http://127.0.0.1:9/v1"}
        self.sync = RelayClient(http_client=httpx.Client(transport=transport), **kw)
        self.loop = asyncio.new_event_loop()
        self.aclient = AsyncRelayClient(http_client=httpx.AsyncClient(transport=transport), **kw)

    def _reply(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=self.headers, stream=_Reads(list(self.pieces)))

    def run(self, pieces: list[bytes], *, sync: bool) -> tuple[list[dict[str, Any]], StreamResult]:
        self.pieces = pieces
        if sync:
            with self.sync.stream_chat(model="gpt-4.1", messages=MESSAGES) as stream:
                chunks = [c.raw for c in stream]
            return chunks, stream.result

        async def go() -> tuple[list[dict[str, Any]], StreamResult]:
            stream = await self.aclient.stream_chat(model="gpt-4.1", messages=MESSAGES)
            async with stream:
                chunks = [c.raw async for c in stream]
            return chunks, stream.result

        return self.loop.run_until_complete(go())

    def close(self) -> None:
        self.sync.close()
        self.loop.run_until_complete(self.aclient.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def feeder() -> Iterator[Feeder]:
    f = Feeder()
    yield f
    f.close()


def folded(result: StreamResult) -> dict[str, Any]:
    return {
        "id": result.id,
        "model": result.model,
        "content": result.content,
        "reasoning": result.reasoning_content,
        "tools": [t.model_dump() for t in result.tool_calls],
        "finish": result.finish_reason,
        "usage": result.usage.model_dump() if result.usage else None,
        "fingerprint": result.system_fingerprint,
    }


def split(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(raw) + 1) for c in cuts})
    return [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]


@pytest.fixture(scope="module")
def baselines(feeder: Feeder) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    out = {}
    for name, raw in CORPUS.items():
        chunks, result = feeder.run([raw], sync=True)
        assert result.finish_reason is not None, name
        out[name] = (chunks, folded(result))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(CORPUS)),
    cuts=st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=40),
    sync=st.booleans(),
)
def test_any_rechunking_folds_identically(
    feeder: Feeder,
    baselines: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]],
    name: str,
    cuts: list[int],
    sync: bool,
) -> None:
    raw = CORPUS[name]
    chunks, result = feeder.run(split(raw, cuts), sync=sync)
    assert (chunks, folded(result)) == baselines[name]


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_byte_by_byte_folds_identically(
    feeder: Feeder, baselines: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]], name: str
) -> None:
    raw = CORPUS[name]
    pieces = [raw[i : i + 1] for i in range(len(raw))]
    for sync in (True, False):
        chunks, result = feeder.run(pieces, sync=sync)
        assert (chunks, folded(result)) == baselines[name]


# -- garbage -------------------------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


def _leaf(valid: Any) -> st.SearchStrategy[Any]:
    """The valid value, or any JSON value in its place."""
    return st.one_of(st.just(valid), _json)


def _some(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


_tool_delta = _some(
    index=_leaf(0),
    id=_leaf("call_1"),
    type=_leaf("function"),
    function=_json | _some(name=_leaf("f"), arguments=_leaf('{"a"')),
)
_delta = _some(
    role=_leaf("assistant"),
    content=_leaf("hi"),
    reasoning_content=_leaf("hm"),
    reasoning=_leaf("hm"),
    refusal=_leaf(None),
    tool_calls=_json | st.lists(_tool_delta, max_size=2),
)
_choice = _some(index=_leaf(0), delta=_json | _delta, finish_reason=_leaf(None), logprobs=_json)
_usage = _some(
    prompt_tokens=_leaf(1),
    completion_tokens=_leaf(2),
    total_tokens=_leaf(3),
    prompt_tokens_details=_json | _some(cached_tokens=_leaf(1)),
    completion_tokens_details=_json | _some(reasoning_tokens=_leaf(1)),
)
# chunk-shaped objects with a wrong type in any position
_chunkish = _some(
    id=_leaf("c"),
    model=_leaf("m"),
    created=_leaf(1),
    system_fingerprint=_leaf("fp"),
    choices=_json | st.lists(_choice, max_size=2),
    usage=_json | _usage,
)

_payload = st.one_of(
    st.text(max_size=40),
    _json.map(json.dumps),
    _chunkish.map(json.dumps),
    st.lists(_choice, min_size=1, max_size=2).map(
        lambda choices: json.dumps({"id": "c", "model": "m", "choices": choices})
    ),
)


def _has_error(payload: str, event: str) -> bool:
    try:
        obj = json.loads(payload)
    except ValueError:
        return False
    return event == "error" or (isinstance(obj, dict) and bool(obj.get("error")))


def _check_outcome(feeder: Feeder, pieces: list[bytes], sync: bool) -> RelayError | None:
    try:
        chunks, result = feeder.run(pieces, sync=sync)
    except RelayError as error:  # anything else fails the test with its traceback
        # a typed error is one of the two allowed outcomes (no pytest.raises): check it here
        assert isinstance(error.partial_text, str)  # noqa: PT017
        return error
    # what reaches the user has the documented types
    assert isinstance(result.content, str)
    assert isinstance(result.reasoning_content, str)
    assert isinstance(result.id, str)
    assert isinstance(result.model, str)
    assert result.finish_reason is None or isinstance(result.finish_reason, str)
    assert result.system_fingerprint is None or isinstance(result.system_fingerprint, str)
    for call in result.tool_calls:
        assert isinstance(call.id, str)
        assert isinstance(call.function.arguments, str)
    for chunk in chunks:
        assert isinstance(chunk, dict)
    return None


# shapes hypothesis found (each once raised an untyped error), kept as fixed examples
_FOUND = [
    '{"choices": {"": null}}',
    '{"id": [null]}',
    '{"id": "c", "model": "m", "choices": [{"delta": {"content": [null]}}]}',
    '{"id": "c", "model": "m", "choices": [{"delta": {"tool_calls": [{"id": [null]}]}}]}',
    '{"choices": [{"delta": {"tool_calls": [{"function": {"arguments": {"a": 1}}}]}}]}',
]


def _with_found(test: Any) -> Any:
    for payload in _FOUND:
        test = example(
            name="emulator:parallel-tools", payloads=[(payload, "")], position=1, sync=True
        )(test)
    return test


@_with_found
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(CORPUS)),
    payloads=st.lists(
        st.tuples(_payload, st.sampled_from(["", "error", "message"])), min_size=1, max_size=3
    ),
    position=st.integers(min_value=0, max_value=1 << 16),
    sync=st.booleans(),
)
def test_garbage_events_raise_only_typed_errors(
    feeder: Feeder,
    name: str,
    payloads: list[tuple[str, str]],
    position: int,
    sync: bool,
) -> None:
    raw = CORPUS[name].replace(b"\r\n", b"\n")
    frames = raw.split(b"\n\n")
    at = position % len(frames)
    garbage = [
        ((f"event: {event}\n" if event else "") + f"data: {payload.replace(chr(10), ' ')}").encode()
        for payload, event in payloads
    ]
    pieces = [b"\n\n".join([*frames[:at], *garbage, *frames[at:]])]
    error = _check_outcome(feeder, pieces, sync)
    if error is None:
        return
    if isinstance(error, APIStatusError):  # the documented in-stream error
        assert any(_has_error(p, e) for p, e in payloads), error
    else:
        assert type(error) in (ProtocolError, StreamInterruptedError), repr(error)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.binary(max_size=300), cuts=st.lists(st.integers(0, 400), max_size=5), sync=st.booleans()
)
def test_random_bytes_raise_only_typed_errors(
    feeder: Feeder, body: bytes, cuts: list[int], sync: bool
) -> None:
    error = _check_outcome(feeder, split(body, cuts), sync)
    assert error is None or type(error) in (ProtocolError, StreamInterruptedError), repr(error)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=_payload, sync=st.booleans())
def test_a_non_chunk_data_event_is_a_protocol_error(
    feeder: Feeder, payload: str, sync: bool
) -> None:
    try:
        obj = json.loads(payload)
    except ValueError:
        obj = None
    if isinstance(obj, dict):
        return  # may be a valid (if odd) chunk: covered by the splice test above
    line = "data: " + payload.replace("\n", " ").replace("\r", " ")
    body = (line + "\n\ndata: [DONE]\n\n").encode()
    if payload.strip() in ("[DONE]", ""):
        return
    error = _check_outcome(feeder, [body], sync)
    assert type(error) is ProtocolError, repr(error)
