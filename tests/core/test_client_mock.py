"""Client behaviour over httpx.MockTransport (sync and async with one body each)."""

from __future__ import annotations

import base64
import json
import logging
import struct
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from holysheep_relay import (
    AuthenticationError,
    BadRequestError,
    ContextLengthExceededError,
    InvalidInputError,
    ModelNotFoundError,
    ProtocolError,
    RateLimitError,
    RelayConnectionError,
    RelayError,
    ServerError,
    StreamInterruptedError,
    UsageEvent,
    UsageLedger,
    served,
)

from .helpers import KEY, Runner, completion, sse, text_chunks

both = pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])


class Recorder:
    """A MockTransport handler that answers from a script and records requests."""

    def __init__(self, *replies: httpx.Response | Exception) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.times.append(time.monotonic())
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        return reply

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


def ok_json(data: Any, **headers: str) -> httpx.Response:
    return httpx.Response(200, json=data, headers={"x-request-id": "req_ok", **headers})


def ok_sse(body: bytes) -> httpx.Response:
    return httpx.Response(
        200, content=body, headers={"content-type": "text/event-stream", "x-request-id": "req_s"}
    )


@both
def test_chat_request_shape_and_typed_reply(sync: bool) -> None:
    rec = Recorder(ok_json(completion("Hello!")))
    reply = Runner(sync, rec, base_url="http://relay.test/v1/v1/chat/completions/").chat(
        model="sonnet-4", temperature=0.2, max_tokens=10, top_p=None
    )
    req = rec.requests[0]
    assert str(req.url) == "http://relay.test/v1/chat/completions"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.headers["user-agent"].startswith("holysheep-integrations/")
    body = json.loads(req.content)
    assert body == {
        "model": "sonnet-4",  # sent exactly as written: aliases never rewrite the request
        "messages": [{"role": "user", "content": "hello there"}],
        "temperature": 0.2,
        "max_tokens": 10,
    }
    assert reply.choices[0].message.content == "Hello!"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.total_tokens == 5
    assert reply.request_id == "req_ok"
    assert reply.raw["id"] == "chatcmpl-1"
    assert reply.latency_ms > 0
    assert reply.cost_usd == pytest.approx((4 * 2.0 + 1 * 8.0) / 1e6)


@both
def test_unknown_model_price_gives_none_cost(sync: bool) -> None:
    rec = Recorder(ok_json(completion(model="brand-new")))
    assert Runner(sync, rec).chat(model="brand-new").cost_usd is None


@both
def test_reasoning_field_is_kept(sync: bool) -> None:
    data = completion()
    data["choices"][0]["message"]["reasoning"] = "because"
    reply = Runner(sync, Recorder(ok_json(data))).chat()
    assert reply.choices[0].message.reasoning_content == "because"


@both
def test_tool_calls_in_reply(sync: bool) -> None:
    data = completion()
    data["choices"][0]["message"] = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": "{}"}}
        ],
    }
    reply = Runner(sync, Recorder(ok_json(data))).chat()
    tool_calls = reply.choices[0].message.tool_calls
    assert tool_calls is not None
    assert tool_calls[0].function.name == "add"


@both
def test_stream_sends_include_usage_and_folds(sync: bool) -> None:
    rec = Recorder(ok_sse(sse(*text_chunks("Hel", "lo"))))
    chunks, result = Runner(sync, rec).stream()
    assert rec.bodies()[0]["stream"] is True
    assert rec.bodies()[0]["stream_options"] == {"include_usage": True}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello"
    assert result.content == "Hello"
    assert result.finish_reason == "stop"
    assert result.usage is not None
    assert result.usage.total_tokens == 6
    assert result.request_id == "req_s"
    assert result.cost_usd is not None
    assert result.cost_usd > 0


@both
def test_stream_options_rejection_retries_once_without_and_remembers(sync: bool) -> None:
    reject = httpx.Response(
        400,
        json={
            "error": {
                "message": "Unrecognized request argument supplied: stream_options",
                "type": "invalid_request_error",
                "param": "stream_options",
            }
        },
    )
    rec = Recorder(
        reject,
        ok_sse(sse(*text_chunks("a", usage=False))),
        ok_sse(sse(*text_chunks("b", usage=False))),
    )
    _, result = Runner(sync, rec).stream(calls=2)
    assert [("stream_options" in b) for b in rec.bodies()] == [True, False, False]
    assert result.content == "b"
    assert result.usage is None
    assert result.cost_usd is None


@both
def test_other_400_on_stream_is_not_retried(sync: bool) -> None:
    rec = Recorder(httpx.Response(400, json={"error": {"message": "bad temperature"}}))
    with pytest.raises(BadRequestError, match="bad temperature"):
        Runner(sync, rec).stream()
    assert len(rec.requests) == 1


@both
@pytest.mark.parametrize(
    ("chunks", "done", "error", "match"),
    [
        (
            text_chunks("par", "tial", finish=None, usage=False),
            False,
            StreamInterruptedError,
            "before it finished",
        ),
        (
            [*text_chunks("par", finish=None, usage=False), "{not json"],
            False,
            ProtocolError,
            "malformed",
        ),
        (
            [
                *text_chunks("par", finish=None, usage=False),
                {"error": {"message": "upstream overloaded", "type": "server_error"}},
            ],
            False,
            ServerError,
            "upstream overloaded",
        ),
        (text_chunks("par", finish="error", usage=False), True, ServerError, "finish_reason"),
    ],
    ids=["ends-early", "malformed", "error-object", "finish-error"],
)
def test_broken_streams_raise_with_partial_text(
    sync: bool, chunks: list[Any], done: bool, error: type[Exception], match: str
) -> None:
    rec = Recorder(ok_sse(sse(*chunks, done=done)))
    with pytest.raises(error, match=match) as info:
        Runner(sync, rec).stream()
    assert info.value.partial_text == "par" + ("tial" if "tial" in str(chunks) else "")  # type: ignore[attr-defined]
    assert info.value.request_id == "req_s"  # type: ignore[attr-defined]


@both
def test_event_error_frame_raises(sync: bool) -> None:
    body = sse(*text_chunks("x", finish=None, usage=False), done=False) + (
        b'event: error\ndata: {"error": {"message": "quota", "type": "rate_limit_error"}}\n\n'
    )
    with pytest.raises(RateLimitError, match="quota"):
        Runner(sync, Recorder(ok_sse(body))).stream()


@both
def test_stream_without_done_but_with_finish_reason_is_complete(sync: bool) -> None:
    _, result = Runner(sync, Recorder(ok_sse(sse(*text_chunks("ok"), done=False)))).stream()
    assert result.content == "ok"


@both
def test_retries_5xx_then_succeeds_and_counts_attempts(sync: bool) -> None:
    rec = Recorder(
        httpx.Response(503, text="busy"),
        httpx.Response(502, text="<html></html>"),
        ok_json(completion()),
    )
    assert Runner(sync, rec).chat().content == "hi"
    assert len(rec.requests) == 3


@both
def test_gives_up_after_max_retries(sync: bool) -> None:
    rec = Recorder(httpx.Response(500, json={"error": {"message": "boom"}}))
    with pytest.raises(ServerError, match="boom"):
        Runner(sync, rec, max_retries=2).chat()
    assert len(rec.requests) == 3


@both
@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_never_retried(sync: bool, status: int) -> None:
    rec = Recorder(httpx.Response(status, json={"error": {"message": "no"}}))
    with pytest.raises(RelayError):  # the exact class is covered in test_errors
        Runner(sync, rec).chat()
    assert len(rec.requests) == 1


@both
def test_retry_after_ms_is_honoured(sync: bool) -> None:
    rec = Recorder(
        httpx.Response(
            429, headers={"retry-after-ms": "150"}, json={"error": "rate_limit_exceeded"}
        ),
        ok_json(completion()),
    )
    Runner(sync, rec).chat()
    assert rec.times[1] - rec.times[0] >= 0.14


@both
def test_connect_errors_are_retried_then_mapped(sync: bool) -> None:
    rec = Recorder(httpx.ConnectError("refused"))
    with pytest.raises(RelayConnectionError, match="could not reach"):
        Runner(sync, rec, max_retries=1).chat()
    assert len(rec.requests) == 2


@both
def test_cross_host_redirect_is_not_followed(sync: bool) -> None:
    rec = Recorder(httpx.Response(307, headers={"location": "https://evil.example/v1/x"}))
    with pytest.raises(ProtocolError, match="redirect"):
        Runner(sync, rec).chat()
    assert [r.url.host for r in rec.requests] == ["relay.test"]


@both
def test_invalid_input_fails_before_any_request(sync: bool) -> None:
    rec = Recorder(ok_json(completion()))
    runner = Runner(sync, rec)
    bad_calls: list[dict[str, Any]] = [
        {"messages": []},
        {"messages": "hi"},
        {"messages": [{"role": "robot", "content": "x"}]},
        {"messages": [{"role": "tool", "content": "x"}]},
        {"model": ""},
        {"temperature": 3},
        {"max_tokens": 0},
        {"n": "2"},
        {"stream": True},
    ]
    for kw in bad_calls:
        with pytest.raises(InvalidInputError):
            runner.chat(**kw)
    with pytest.raises(InvalidInputError):
        runner.embed(input=[])
    with pytest.raises(InvalidInputError):
        runner.embed(input=["ok", ""])
    assert rec.requests == []


@both
def test_model_not_found_lists_close_matches(sync: bool) -> None:
    rec = Recorder(
        httpx.Response(
            404,
            json={
                "error": {
                    "code": "model_not_found",
                    "message": "Model 'claude-opus-4.6b' not available",
                }
            },
        )
    )
    with pytest.raises(ModelNotFoundError) as info:
        Runner(sync, rec).chat(model="claude-opus-4.6b")
    assert "claude-opus-4.6" in info.value.suggestions


@both
def test_on_usage_gets_one_event_per_request(sync: bool) -> None:
    events: list[UsageEvent] = []
    ledger = UsageLedger()
    rec = Recorder(ok_json(completion()))
    Runner(sync, rec, on_usage=[events.append, ledger]).chat()
    rec2 = Recorder(ok_sse(sse(*text_chunks("a", "b"))))
    Runner(sync, rec2, on_usage=[events.append, ledger]).stream()
    assert [(e.streamed, e.total_tokens, e.request_id) for e in events] == [
        (False, 5, "req_ok"),
        (True, 6, "req_s"),
    ]
    assert ledger.by_model["gpt-4.1"].requests == 2


@both
def test_broken_usage_callback_does_not_break_the_call(sync: bool) -> None:
    def boom(_: UsageEvent) -> None:
        raise RuntimeError("callback bug")

    assert Runner(sync, Recorder(ok_json(completion())), on_usage=boom).chat().content == "hi"


@both
def test_list_models(sync: bool) -> None:
    rec = Recorder(ok_json({"object": "list", "data": [{"id": "gpt-4.1", "object": "model"}]}))
    assert [m.id for m in Runner(sync, rec).models()] == ["gpt-4.1"]
    assert rec.requests[0].method == "GET"
    assert rec.requests[0].url.path == "/v1/models"


@both
def test_embeddings_float_base64_and_order(sync: bool) -> None:
    packed = base64.b64encode(struct.pack("<3f", 0.5, -1.0, 2.0)).decode()
    rec = Recorder(
        ok_json(
            {
                "object": "list",
                "model": "text-embedding-3-small",
                "data": [
                    {"index": 1, "embedding": packed},
                    {"index": 0, "embedding": [1.0, 0.0, 0.0]},
                ],
                "usage": {"prompt_tokens": 2, "total_tokens": 2},
            }
        )
    )
    result = Runner(sync, rec).embed(input=["a", "b"], dimensions=3)
    assert result.vectors == [[1.0, 0.0, 0.0], [0.5, -1.0, 2.0]]
    body = rec.bodies()[0]
    assert body["encoding_format"] == "float"
    assert body["dimensions"] == 3
    assert result.usage is not None
    assert result.usage.prompt_tokens == 2


@both
def test_embedding_count_mismatch_is_a_protocol_error(sync: bool) -> None:
    rec = Recorder(ok_json({"data": [{"index": 0, "embedding": [1.0]}]}))
    with pytest.raises(ProtocolError, match="asked for 2"):
        Runner(sync, rec).embed(input=["a", "b"])


@both
def test_non_json_success_body_is_a_protocol_error(sync: bool) -> None:
    rec = Recorder(httpx.Response(200, text="<html>login</html>"))
    with pytest.raises(ProtocolError, match="not valid JSON"):
        Runner(sync, rec).chat()


@both
def test_key_never_in_logs_or_errors_even_when_relay_echoes_it(
    sync: bool, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder(httpx.Response(401, json={"error": {"message": f"bad key {KEY}"}}))
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthenticationError) as info:
        Runner(sync, rec, max_retries=0).chat()
    assert KEY not in str(info.value)
    assert KEY not in repr(info.value)
    assert KEY not in info.value.message
    assert KEY not in caplog.text
    assert "HOLYSHEEP_API_KEY" in str(info.value)


class TrackingStream(httpx.SyncByteStream):
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.closed = False

    def __iter__(self):  # type: ignore[no-untyped-def]
        for i in range(0, len(self.body), 40):
            yield self.body[i : i + 40]

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("how", ["exhausted", "closed-early", "broken"])
def test_stream_closes_its_response(how: str) -> None:
    chunks = text_chunks(*[f"w{i} " for i in range(20)])
    body = sse(*chunks) if how != "broken" else sse(*chunks[:5], "{bad", done=False)
    stream_body = TrackingStream(body)
    rec = Recorder(
        httpx.Response(200, stream=stream_body, headers={"content-type": "text/event-stream"})
    )
    from holysheep_relay import RelayClient

    with RelayClient(
        api_key=KEY,
        base_url="http://relay.test",
        http_client=httpx.Client(transport=httpx.MockTransport(rec)),
    ) as client:
        stream = client.stream_chat(model="gpt-4.1", messages=[{"role": "user", "content": "x"}])
        if how == "exhausted":
            assert stream.until_done().content.startswith("w0 w1")
        elif how == "closed-early":
            with stream:
                next(stream)
                next(stream)
            with pytest.raises(RuntimeError, match="not finished"):
                _ = stream.result
        else:
            with pytest.raises(ProtocolError):
                list(stream)
    assert stream_body.closed


def test_import_core_pulls_in_no_framework_or_openai() -> None:
    code = (
        "import sys, holysheep_relay; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('langchain_core', 'llama_index', 'openai', 'langchain', 'tiktoken')]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@both
def test_more_bad_input_is_rejected_before_any_request(sync: bool) -> None:
    rec = Recorder(ok_json(completion()))
    runner = Runner(sync, rec)
    with pytest.raises(InvalidInputError, match="whitespace"):
        runner.chat(model="gpt 4.1")
    with pytest.raises(InvalidInputError, match="JSON"):
        runner.chat(tools=[{"type": "function", "function": {"name": "f", "x": object()}}])
    with pytest.raises(InvalidInputError, match="JSON"):
        runner.chat(temperature=0.5, extra_body={"nan": float("nan")})
    assert rec.requests == []


@both
def test_long_input_is_sent_unless_the_relay_published_a_smaller_limit(sync: bool) -> None:
    """The catalog's windows are guesses: only the relay's own /models figures refuse."""
    listing = {"object": "list", "data": [{"id": "gpt-4.1", "max_input_tokens": 100_000}]}
    rec = Recorder(
        ok_json(completion()),
        ok_json({"data": [{"index": 0, "embedding": [0.1]}]}),
        ok_json(listing),
    )
    runner = Runner(sync, rec, base_url="http://127.0.0.1:7/v1")
    huge = [{"role": "user", "content": "word " * 300_000}]  # 1.5M chars > catalog 128K
    runner.chat(model="gpt-4.1", messages=huge)  # sent: the relay decides
    runner.embed(input=["x" * 60_000])  # above the catalog's 8,191: sent too
    assert len(rec.requests) == 2
    runner.models()  # the relay publishes 100,000 input tokens for gpt-4.1
    with pytest.raises(ContextLengthExceededError, match="100,000 input tokens") as info:
        runner.chat(model="gpt-4.1", messages=huge)
    assert info.value.status_code is None
    assert len(rec.requests) == 3  # refused before sending
    served.forget("http://127.0.0.1:7/v1")


def test_long_input_for_unknown_model_is_left_to_the_relay() -> None:
    rec = Recorder(ok_json(completion()))
    Runner(True, rec).chat(
        model="brand-new", messages=[{"role": "user", "content": "w " * 400_000}]
    )
    assert len(rec.requests) == 1


def test_plain_http_to_a_remote_host_warns(caplog: pytest.LogCaptureFixture) -> None:
    from holysheep_relay.provider import normalize_base_url

    with caplog.at_level(logging.WARNING, logger="holysheep_relay"):
        normalize_base_url("http://127.0.0.1:8000/v1")
        assert "unencrypted" not in caplog.text
        normalize_base_url("http://relay.example.com/v1")
    assert "unencrypted" in caplog.text


@both
def test_user_headers_cannot_replace_the_key(sync: bool) -> None:
    rec = Recorder(ok_json(completion()))
    runner = Runner(sync, rec, default_headers={"authorization": "Bearer stolen", "X-Team": "a"})
    runner.chat(extra_headers={"AUTHORIZATION": "Bearer other", "X-Trace": "t"})
    sent = rec.requests[0].headers
    assert sent.get_list("authorization") == [f"Bearer {KEY}"]
    assert (sent["x-team"], sent["x-trace"]) == ("a", "t")
