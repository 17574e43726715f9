"""The relay is the source of truth (core clients, sync and async, over MockTransport).

Model ids go out exactly as written; only limits the relay published in ``/models`` refuse
a request before sending (catalog figures at most warn); request ids come from whichever
header the gateway uses; what a relay rejected (``stream_options``) or left out (usage) is
remembered per model.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from holysheep_relay import (
    AsyncRelayClient,
    BadRequestError,
    ContextLengthExceededError,
    ModelInfo,
    RelayClient,
    RelayError,
    UsageEvent,
    UsageLedger,
    resolve_model,
    served,
)
from holysheep_relay.testing import Emulator

from .helpers import KEY, USER, completion, fast_retry_policy, sse
from .test_error_classification import reference_response

both = pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])

Handler = Callable[[httpx.Request], httpx.Response]
USAGE = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}


def stream_body(model: str, *, usage: bool = True) -> bytes:
    """A complete two-piece stream from ``model``, with or without a usage chunk."""
    base = {"id": "c1", "object": "chat.completion.chunk", "model": model}
    chunks: list[dict[str, Any]] = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        {**base, "choices": [{"index": 0, "delta": {"content": "Hel"}}]},
        {**base, "choices": [{"index": 0, "delta": {"content": "lo"}}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    if usage:
        chunks.append({**base, "choices": [], "usage": USAGE})
    return sse(*chunks)


class Relay:
    """A MockTransport relay: chat (JSON or SSE), embeddings and ``/models``.

    ``listing``: the ``/models`` data; ``headers``: on every reply; ``usage``: whether
    replies carry usage (streams only when asked with ``stream_options``, like OpenAI);
    ``no_stream_options``: models whose channel answers 400 to ``stream_options``.
    """

    def __init__(
        self,
        *,
        listing: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        usage: bool = True,
        no_stream_options: tuple[str, ...] = (),
        status: int = 200,
    ) -> None:
        self.listing = listing or []
        self.headers = headers or {}
        self.usage = usage
        self.no_stream_options = no_stream_options
        self.status = status
        self.requests: list[httpx.Request] = []

    def bodies(self, path: str = "/chat/completions") -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.url.path.endswith(path)]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path.endswith("/models"):
            return httpx.Response(200, json={"object": "list", "data": self.listing})
        body = json.loads(request.content)
        model = body["model"]
        if self.status != 200:
            error = {"error": {"message": "rejected", "type": "invalid_request_error"}}
            return httpx.Response(self.status, json=error, headers=self.headers)
        if path.endswith("/embeddings"):
            reply: dict[str, Any] = {
                "object": "list",
                "model": model,
                "data": [{"index": 0, "embedding": [0.1, 0.2]} for _ in body["input"]],
            }
            if self.usage:
                reply["usage"] = {"prompt_tokens": 2, "total_tokens": 2}
            return httpx.Response(200, json=reply, headers=self.headers)
        if not body.get("stream"):
            reply = completion("hi", model=model)
            if not self.usage:
                del reply["usage"]
            return httpx.Response(200, json=reply, headers=self.headers)
        if model in self.no_stream_options and "stream_options" in body:
            error = {
                "error": {
                    "message": "Unrecognized request argument supplied: stream_options",
                    "type": "invalid_request_error",
                    "param": "stream_options",
                    "code": "unsupported_parameter",
                }
            }
            return httpx.Response(400, json=error, headers=self.headers)
        include = (body.get("stream_options") or {}).get("include_usage") is True
        content = stream_body(model, usage=self.usage and include)
        headers = {"content-type": "text/event-stream", **self.headers}
        return httpx.Response(200, content=content, headers=headers)


def _defaults(op: str, kw: dict[str, Any]) -> dict[str, Any]:
    if op in ("chat", "stream"):
        return {"model": "gpt-4.1", "messages": USER, **kw}
    if op == "embed":
        return {"model": "text-embedding-3-small", "input": "hello", **kw}
    return kw


def _sync_step(client: RelayClient, op: str, kw: dict[str, Any]) -> Any:
    if op == "chat":
        return client.chat(**kw)
    if op == "stream":
        stream = client.stream_chat(**kw)
        list(stream)
        return stream.result
    if op == "embed":
        return client.embed(**kw)
    if op == "models":
        return client.list_models()
    raise AssertionError(op)


async def _async_step(client: AsyncRelayClient, op: str, kw: dict[str, Any]) -> Any:
    if op == "chat":
        return await client.chat(**kw)
    if op == "stream":
        stream = await client.stream_chat(**kw)
        async for _ in stream:
            pass
        return stream.result
    if op == "embed":
        return await client.embed(**kw)
    if op == "models":
        return await client.list_models()
    raise AssertionError(op)


def drive(sync: bool, relay: Handler, *steps: tuple[str, dict[str, Any]], **client_kw: Any) -> Any:
    """Run ``steps`` (``("chat" | "stream" | "embed" | "models", kwargs)``) in order on one
    sync or async client; return the last step's result (exceptions propagate)."""
    kw = {"api_key": KEY, "max_retries": 0, **client_kw}
    kw.setdefault("retry_policy", fast_retry_policy(kw["max_retries"]))
    calls = [(op, _defaults(op, args)) for op, args in steps]
    if sync:
        with RelayClient(http_client=httpx.Client(transport=httpx.MockTransport(relay)), **kw) as c:
            return [_sync_step(c, op, args) for op, args in calls][-1]

    async def go() -> Any:
        http = httpx.AsyncClient(transport=httpx.MockTransport(relay))
        async with AsyncRelayClient(http_client=http, **kw) as c:
            return [await _async_step(c, op, args) for op, args in calls][-1]

    return asyncio.run(go())


@pytest.fixture
def url() -> Iterator[str]:
    """A base URL of this test's own: published limits are remembered per URL, process-wide."""
    base = f"http://127.0.0.1:9/{uuid.uuid4().hex}/v1"
    yield base
    served.forget(base)


# -- 1. the model id as written ----------------------------------------------------------

AS_WRITTEN = ["deepseek-chat", "claude-sonnet-4-5", "sonnet-4"]  # all catalog aliases


@both
@pytest.mark.parametrize("op", ["chat", "stream", "embed"])
@pytest.mark.parametrize("model", AS_WRITTEN)
def test_model_id_is_sent_as_written(sync: bool, op: str, model: str, url: str) -> None:
    assert resolve_model(model) != model  # the catalog knows it under another id
    relay = Relay()
    result = drive(sync, relay, (op, {"model": model}), base_url=url)
    path = "/embeddings" if op == "embed" else "/chat/completions"
    assert [b["model"] for b in relay.bodies(path)] == [model]
    assert result.model == model


@both
def test_resolve_model_is_the_explicit_opt_in(sync: bool, url: str) -> None:
    relay = Relay()
    drive(sync, relay, ("chat", {"model": resolve_model("sonnet-4")}), base_url=url)
    assert relay.bodies()[0]["model"] == "claude-sonnet-4-20250514"
    assert resolve_model("deepseek-chat") == "deepseek-v3.2"
    assert resolve_model("house-model-x") == "house-model-x"  # unknown ids pass through


# -- 5. request ids ---------------------------------------------------------------------

REQUEST_ID_HEADERS = [
    pytest.param({"x-request-id": "a", "request-id": "b", "x-litellm-call-id": "c"}, "a", id="x"),
    pytest.param({"request-id": "b", "x-litellm-call-id": "c"}, "b", id="anthropic"),
    pytest.param({"x-litellm-call-id": "c"}, "c", id="litellm"),
    pytest.param({"X-Request-ID": "A"}, "A", id="case-insensitive"),
    pytest.param({}, None, id="none"),
]


@both
@pytest.mark.parametrize(("headers", "expected"), REQUEST_ID_HEADERS)
@pytest.mark.parametrize("op", ["chat", "stream", "embed"])
def test_request_id_of_replies(
    sync: bool, op: str, headers: dict[str, str], expected: str | None, url: str
) -> None:
    events: list[UsageEvent] = []
    result = drive(sync, Relay(headers=headers), (op, {}), base_url=url, on_usage=events.append)
    assert result.request_id == expected
    assert [e.request_id for e in events] == [expected]


@both
@pytest.mark.parametrize(("headers", "expected"), REQUEST_ID_HEADERS)
@pytest.mark.parametrize("op", ["chat", "stream"])
def test_request_id_of_errors(
    sync: bool, op: str, headers: dict[str, str], expected: str | None, url: str
) -> None:
    with pytest.raises(BadRequestError) as info:
        drive(sync, Relay(headers=headers, status=400), (op, {}), base_url=url)
    assert info.value.request_id == expected


@both
def test_request_id_of_a_recorded_anthropic_error(sync: bool, url: str) -> None:
    status, headers, body = reference_response(
        "anthropic/exchanges/ant-error-400-prompt-too-long.json"
    )
    assert "x-request-id" not in headers

    def replay(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers)

    with pytest.raises(RelayError) as info:
        drive(sync, replay, ("chat", {}), base_url=url)
    assert info.value.request_id == headers["request-id"]


# -- 6. limits the relay publishes ------------------------------------------------------

OPENROUTER_ENTRY = {
    "context_length": 128000,
    "top_provider": {"context_length": 128000, "max_completion_tokens": 16384},
}
# id: (published fields, input_limit, output_limit)
LISTED: dict[str, tuple[dict[str, Any], int | None, int | None]] = {
    "litellm": ({"max_input_tokens": 1047576, "max_output_tokens": 32768}, 1047576, 32768),
    "openrouter": (OPENROUTER_ENTRY, 128000, 16384),
    "window": ({"context_window": 200000, "max_tokens": 64000}, 200000, 64000),
    "numbers-as-text": ({"max_input_tokens": "128000", "max_tokens": 8192.0}, 128000, 8192),
    "input-first": ({"max_input_tokens": 1000, "context_length": 2000}, 1000, None),
    "unpublished": ({}, None, None),
}


@pytest.mark.parametrize(("fields", "input_limit", "output_limit"), LISTED.values(), ids=LISTED)
def test_model_info_keeps_published_limits(
    fields: dict[str, Any], input_limit: int | None, output_limit: int | None
) -> None:
    info = ModelInfo.model_validate({"id": "m", "object": "model", **fields})
    assert (info.input_limit, info.output_limit) == (input_limit, output_limit)
    for name in ("max_input_tokens", "max_output_tokens", "context_length", "context_window"):
        if isinstance(fields.get(name), int):
            assert getattr(info, name) == fields[name]


def test_model_info_of_a_recorded_anthropic_models_listing() -> None:
    _, _, listing = reference_response("anthropic/exchanges/ant-error-404-model-not-found.json")
    entry = listing["data"][0]
    info = ModelInfo.model_validate(entry)
    assert info.input_limit == entry["max_input_tokens"]
    assert info.output_limit == entry["max_tokens"]


GARBAGE = {
    "max_input_tokens": "lots",
    "max_output_tokens": -5,
    "context_length": True,
    "context_window": 1.5,
    "max_tokens": {"value": 10},
    "top_provider": "fast",
}


@pytest.mark.parametrize(
    "fields",
    [GARBAGE, {"max_input_tokens": 0, "top_provider": {"max_completion_tokens": "many"}}],
    ids=["every-field", "nested"],
)
def test_garbage_limits_become_none(fields: dict[str, Any]) -> None:
    info = ModelInfo.model_validate({"id": "m", **fields})
    assert (info.input_limit, info.output_limit) == (None, None)
    for name in ("max_input_tokens", "max_output_tokens", "context_length", "context_window"):
        assert getattr(info, name) is None


@both
def test_a_listing_with_garbage_limits_still_lists(sync: bool, url: str) -> None:
    relay = Relay(listing=[{"id": "weird", **GARBAGE}, {"id": "ok", "max_input_tokens": 10}])
    models = drive(sync, relay, ("models", {}), base_url=url)
    assert [m.id for m in models] == ["weird", "ok"]
    assert models[0].input_limit is None
    with RelayClient(api_key=KEY, base_url=url) as client:
        info = client.model_info("ok")
    assert info is not None
    assert info.input_limit == 10


@both
def test_model_info_after_list_models(sync: bool, url: str) -> None:
    listing = [{"id": "gpt-4.1", "max_input_tokens": 900_000, "max_output_tokens": 20_000}]
    client = RelayClient(api_key=KEY, base_url=url)
    assert client.model_info("gpt-4.1") is None  # nothing listed yet: nothing guessed
    drive(sync, Relay(listing=listing), ("models", {}), base_url=url)
    for reader in (client, RelayClient(api_key=KEY, base_url=url)):  # shared per relay
        info = reader.model_info("gpt-4.1")
        assert info is not None
        assert (info.input_limit, info.output_limit) == (900_000, 20_000)
    assert client.model_info("gpt-4.1-mini") is None  # exact ids only
    other = RelayClient(api_key=KEY, base_url=url.replace("/v1", "-other/v1"))
    assert other.model_info("gpt-4.1") is None  # another relay published nothing
    drive(sync, Relay(listing=[{"id": "x"}]), ("models", {}), base_url=url)
    assert client.model_info("gpt-4.1") is None  # a fresh listing replaces the old one


HUGE = [{"role": "user", "content": "x" * 1_000_000}]  # >= 166,666 tokens by any count


def _catalog_warnings(caplog: pytest.LogCaptureFixture, model: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and "catalog" in r.getMessage() and model in r.getMessage()
    ]


@both
def test_long_prompts_are_sent_when_the_relay_listed_nothing(
    sync: bool, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="holysheep_relay")
    relay = Relay()
    drive(
        sync,
        relay,
        ("chat", {"model": "gpt-4.1", "messages": HUGE}),
        ("chat", {"model": "deepseek-v3.2", "messages": HUGE}),  # catalog: 128K
        ("stream", {"model": "deepseek-v3.2", "messages": HUGE}),
        ("chat", {"model": "deepseek-v3.2", "messages": HUGE}),
        ("embed", {"input": "x" * 100_000}),  # catalog: 8,191
        base_url=url,
    )
    sent = [b["model"] for b in relay.bodies()]
    assert sent == ["gpt-4.1", "deepseek-v3.2", "deepseek-v3.2", "deepseek-v3.2"]
    assert len(relay.bodies("/embeddings")) == 1
    assert len(_catalog_warnings(caplog, "deepseek-v3.2")) <= 1  # a warning at most, once
    assert _catalog_warnings(caplog, "gpt-4.1") == []  # 1,047,576 tokens: fits anyway


@both
@pytest.mark.parametrize("op", ["chat", "stream"])
@pytest.mark.parametrize(
    "published",
    [{"max_input_tokens": 100_000}, {"context_length": 100_000}, {"context_window": 100_000}],
    ids=["max_input_tokens", "context_length", "context_window"],
)
def test_refused_before_sending_above_a_published_limit(
    sync: bool, op: str, published: dict[str, int], url: str
) -> None:
    relay = Relay(listing=[{"id": "gpt-4.1", **published}])
    with pytest.raises(ContextLengthExceededError, match="100,000") as info:
        drive(sync, relay, ("models", {}), (op, {"messages": HUGE}), base_url=url)
    assert info.value.status_code is None
    assert relay.bodies() == []  # nothing was sent


@both
def test_embed_refused_above_a_published_limit(sync: bool, url: str) -> None:
    relay = Relay(listing=[{"id": "text-embedding-3-small", "max_input_tokens": 1000}])
    with pytest.raises(ContextLengthExceededError) as info:
        drive(sync, relay, ("models", {}), ("embed", {"input": ["ok", "x" * 10_000]}), base_url=url)
    assert info.value.status_code is None
    assert relay.bodies("/embeddings") == []


@both
def test_a_published_limit_larger_than_the_catalog_is_honoured(sync: bool, url: str) -> None:
    relay = Relay(listing=[{"id": "deepseek-v3.2", "max_input_tokens": 1_000_000}])
    steps = [("models", {}), ("chat", {"model": "deepseek-v3.2", "messages": HUGE})]
    drive(sync, relay, *steps, base_url=url)
    assert len(relay.bodies()) == 1


@both
def test_under_a_published_limit_is_sent(sync: bool, url: str) -> None:
    relay = Relay(listing=[{"id": "gpt-4.1", "max_input_tokens": 100_000}])
    short = [{"role": "user", "content": "x" * 100_000}]  # ~25K tokens
    drive(sync, relay, ("models", {}), ("chat", {"messages": short}), base_url=url)
    assert len(relay.bodies()) == 1


# -- 7. what the relay taught us, per model ---------------------------------------------


@both
def test_stream_options_rejection_is_remembered_for_that_model_only(sync: bool, url: str) -> None:
    relay = Relay(no_stream_options=("channel-a",))
    last = drive(
        sync,
        relay,
        ("stream", {"model": "channel-a"}),
        ("stream", {"model": "channel-a"}),
        ("stream", {"model": "gpt-4.1"}),
        base_url=url,
    )
    sent = [(b["model"], "stream_options" in b) for b in relay.bodies()]
    assert sent == [
        ("channel-a", True),  # rejected with a 400...
        ("channel-a", False),  # ...and sent again without
        ("channel-a", False),  # the next stream of that model does not ask again
        ("gpt-4.1", True),  # another model on the same client still asks for usage
    ]
    assert last.usage is not None
    assert last.usage.total_tokens == 6


def test_stream_options_rejection_by_the_emulator(emulator: Emulator) -> None:
    emulator.add_fault("reject_stream_options")
    with RelayClient(api_key=KEY, base_url=emulator.base_url, max_retries=0) as client:
        for model in ("deepseek-v3.2", "deepseek-v3.2", "gpt-4.1"):
            stream = client.stream_chat(model=model, messages=USER)
            assert list(stream)
    sent = [(r.json or {}).get("model") for r in emulator.requests]
    options = ["stream_options" in (r.json or {}) for r in emulator.requests]
    assert sent == ["deepseek-v3.2", "deepseek-v3.2", "deepseek-v3.2", "gpt-4.1"]
    assert options == [True, False, False, True]


def _no_usage_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "no usage" in r.getMessage()
    ]


@both
def test_missing_usage_is_warned_once_per_model_and_counted(
    sync: bool, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="holysheep_relay")
    ledger = UsageLedger()
    drive(
        sync,
        Relay(usage=False),
        ("stream", {"model": "model-a"}),
        ("stream", {"model": "model-a"}),
        ("stream", {"model": "model-b"}),
        ("chat", {"model": "model-a"}),
        base_url=url,
        on_usage=ledger,
    )
    warnings = _no_usage_warnings(caplog)
    assert len(warnings) == 2  # one per model, not one per request
    assert sum("model-a" in w for w in warnings) == 1
    assert sum("model-b" in w for w in warnings) == 1
    assert ledger.total.requests == 4
    assert ledger.total.requests_without_usage == 4
    assert ledger.by_model["model-a"].requests_without_usage == 3
    assert ledger.by_model["model-b"].requests_without_usage == 1
    assert ledger.total.total_tokens == 0
    assert "4 request(s) came back without usage" in ledger.report()


@both
def test_replies_with_usage_are_not_counted_as_missing(
    sync: bool, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="holysheep_relay")
    ledger = UsageLedger()
    drive(sync, Relay(), ("stream", {}), ("chat", {}), ("embed", {}), base_url=url, on_usage=ledger)
    assert ledger.total.requests == 3
    assert ledger.total.requests_without_usage == 0
    assert "without usage" not in ledger.report()
    assert _no_usage_warnings(caplog) == []
