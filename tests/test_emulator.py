"""Tests of the relay emulator itself: protocol conformance, answers, faults, synthesiser."""

from __future__ import annotations

import base64
import importlib
import json
import math
import socket
import struct
import time
from collections.abc import Iterator
from datetime import date
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal

import httpx
import openai
import pytest
from openai.types import CreateEmbeddingResponse, Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import BaseModel, Field

from holysheep_relay.testing import (
    DEFAULT_MODELS,
    FAULT_KINDS,
    Emulator,
    RecordedRequest,
    completion_tokens,
    count_prompt_tokens,
    count_tokens,
)
from holysheep_relay.testing._schemacheck import schema_errors
from holysheep_relay.testing._synth import synthesize
from holysheep_relay.testing._tokens import split_words
from tests.emulator_fixtures import TEST_API_KEY

REFERENCE = Path("/work/shared/reference/openai")
AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
MODEL = "emulator-model"
HELLO: Any = [{"role": "user", "content": "Hi there"}]
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather forecast for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer", "minimum": 1},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "days", "unit"],
            "additionalProperties": False,
        },
    },
}
TIME_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
    },
}
TOOL_PROMPT: Any = [{"role": "user", "content": "Call get_weather for Paris over 3 days"}]


# -- helpers ---------------------------------------------------------------------------------
_SDK_CLIENTS: list[openai.OpenAI] = []


def sdk(emu: Emulator, **kwargs: Any) -> openai.OpenAI:
    """An openai client for ``emu``, closed at the end of the test (its socket too)."""
    client = openai.OpenAI(
        base_url=emu.base_url, api_key=TEST_API_KEY, max_retries=0, timeout=5, **kwargs
    )
    _SDK_CLIENTS.append(client)
    return client


@pytest.fixture(autouse=True)
def _close_sdk_clients() -> Iterator[None]:
    yield
    while _SDK_CLIENTS:
        _SDK_CLIENTS.pop().close()


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.base_url, headers=AUTH, timeout=5) as client:
        yield client


def chat_body(**overrides: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": HELLO, **overrides}


def parse_sse(text: str) -> list[tuple[str, str]]:
    """WHATWG-style SSE parse: (event, data) pairs; comments dropped."""
    events: list[tuple[str, str]] = []
    event, data = "message", list[str]()
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            if data:
                events.append((event, "\n".join(data)))
            event, data = "message", list[str]()
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value
    return events


def stream_json(text: str) -> list[dict[str, Any]]:
    return [json.loads(d) for _, d in parse_sse(text) if d != "[DONE]"]


def raw_exchange(emu: Emulator, body: dict[str, Any]) -> tuple[bytes, str]:
    """POST over a bare socket; return (bytes received, how the connection ended)."""
    payload = json.dumps(body).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {TEST_API_KEY}\r\nContent-Type: application/json\r\n"
        f"Connection: close\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    received = b""
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        sock.sendall(head.encode() + payload)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            return received, "reset"
    return received, "eof"


def http_chunks(raw: bytes) -> list[bytes]:
    """Decode an HTTP/1.1 chunked body (after the header block) into its chunks."""
    body = raw.split(b"\r\n\r\n", 1)[1]
    chunks: list[bytes] = []
    while body:
        size_line, body = body.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            break
        chunks.append(body[:size])
        body = body[size + 2 :]
    return chunks


def optional_jsonschema() -> Any:
    """The ``jsonschema`` module if it happens to be installed (it is not a dependency)."""
    try:
        return importlib.import_module("jsonschema")
    except ImportError:
        return None


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


# -- SDK round trips ----------------------------------------------------------------------
def test_plain_chat(emulator: Emulator) -> None:
    raw = sdk(emulator).chat.completions.with_raw_response.create(model=MODEL, messages=HELLO)
    assert raw.headers["x-request-id"] == "req_1"
    reply = raw.parse()
    assert reply.id == "chatcmpl-1"
    assert reply.model == MODEL
    assert reply.object == "chat.completion"
    assert reply.system_fingerprint == "fp_emulator"
    choice = reply.choices[0]
    assert choice.message.content == "Hello! You said: Hi there"
    assert choice.message.role == "assistant"
    assert choice.finish_reason == "stop"
    assert reply.usage is not None
    prompt = count_prompt_tokens(chat_body())
    assert prompt == 5
    assert reply.usage.prompt_tokens == prompt
    assert reply.usage.completion_tokens == count_tokens(choice.message.content) == 5
    assert reply.usage.total_tokens == prompt + 5
    recorded = emulator.requests[-1]
    assert isinstance(recorded, RecordedRequest)
    assert (recorded.method, recorded.path) == ("POST", "/chat/completions")
    assert recorded.headers["authorization"] == f"Bearer {TEST_API_KEY}"
    assert recorded.json is not None
    assert recorded.json["messages"] == HELLO
    assert json.loads(recorded.body) == recorded.json


def test_content_parts_and_image_parts(emulator: Emulator) -> None:
    content: Any = [
        {"type": "text", "text": "Describe"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "text", "text": "this picture"},
    ]
    reply = sdk(emulator).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": content}]
    )
    assert reply.choices[0].message.content == "Hello! You said: Describe this picture"
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == 3 + 3


def test_stream_with_usage(emulator: Emulator) -> None:
    chunks = list(
        sdk(emulator).chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "one two three"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    first = chunks[0].choices[0].delta
    assert first.role == "assistant"
    assert first.content == ""
    pieces = [c.choices[0].delta.content for c in chunks[1:] if c.choices and c.choices[0].delta]
    text = "".join(p for p in pieces if p)
    assert text == "Hello! You said: one two three"
    assert [p for p in pieces if p] == split_words(text)
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens == 6
    assert usage.prompt_tokens == 3 + 3
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_without_usage_has_no_usage_key(emulator: Emulator, http: httpx.Client) -> None:
    response = http.post("/chat/completions", json=chat_body(stream=True))
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["transfer-encoding"] == "chunked"
    events = parse_sse(response.text)
    assert events[-1] == ("message", "[DONE]")
    for chunk in stream_json(response.text):
        assert "usage" not in chunk
        ChatCompletionChunk.model_validate(chunk)


def test_tool_call(emulator: Emulator) -> None:
    reply = sdk(emulator).chat.completions.create(
        model=MODEL, messages=TOOL_PROMPT, tools=[TIME_TOOL, WEATHER_TOOL]
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    (call,) = choice.message.tool_calls
    assert call.id == "call_1"
    assert call.type == "function"
    assert call.function.name == "get_weather"
    arguments = json.loads(call.function.arguments)
    assert arguments == {"city": "Paris", "days": 3, "unit": "celsius"}
    assert schema_errors(arguments, WEATHER_TOOL["function"]["parameters"]) == []
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == count_prompt_tokens(
        {"messages": TOOL_PROMPT, "tools": [TIME_TOOL, WEATHER_TOOL]}
    )
    expected = completion_tokens(tool_calls=[call.model_dump()])
    assert reply.usage.completion_tokens == expected


def test_tool_selection_rules(emulator: Emulator) -> None:
    client = sdk(emulator)
    tools: Any = [WEATHER_TOOL, TIME_TOOL]

    def names(**kwargs: Any) -> list[str]:
        reply = client.chat.completions.create(model=MODEL, tools=tools, **kwargs)
        return [c.function.name for c in reply.choices[0].message.tool_calls or []]

    both: Any = [{"role": "user", "content": "use get_time and get_weather"}]
    assert names(messages=both) == ["get_weather", "get_time"]
    assert names(messages=both, parallel_tool_calls=False) == ["get_weather"]
    assert names(messages=HELLO) == ["get_weather"]  # nothing named: first tool
    forced = {"type": "function", "function": {"name": "get_time"}}
    assert names(messages=HELLO, tool_choice=forced) == ["get_time"]
    assert names(messages=HELLO, tool_choice="required") == ["get_weather"]
    none = client.chat.completions.create(
        model=MODEL, messages=HELLO, tools=tools, tool_choice="none"
    )
    assert none.choices[0].message.content == "Hello! You said: Hi there"


def test_tool_call_stream(emulator: Emulator) -> None:
    chunks = list(
        sdk(emulator).chat.completions.create(
            model=MODEL, messages=TOOL_PROMPT, tools=[WEATHER_TOOL], stream=True
        )
    )
    deltas = [d for c in chunks if c.choices for d in (c.choices[0].delta.tool_calls or [])]
    head = deltas[0]
    assert head.index == 0
    assert head.id == "call_1"
    assert head.type == "function"
    assert head.function is not None
    assert head.function.name == "get_weather"
    assert head.function.arguments == ""
    for delta in deltas[1:]:
        assert delta.id is None
        assert delta.index == 0
        assert delta.function is not None
        assert delta.function.name is None
        assert 0 < len(delta.function.arguments or "") <= 6
    arguments = "".join((d.function.arguments or "") for d in deltas if d.function)
    assert json.loads(arguments) == {"city": "Paris", "days": 3, "unit": "celsius"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_tool_result_turn(emulator: Emulator) -> None:
    messages: Any = [
        *TOOL_PROMPT,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_9",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_9", "content": "22C and sunny"},
    ]
    reply = sdk(emulator).chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER_TOOL]
    )
    assert reply.choices[0].message.content == "The tool returned: 22C and sunny."
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == count_prompt_tokens(
        {"messages": messages, "tools": [WEATHER_TOOL]}
    )


class Forecast(BaseModel):
    city: str
    days: int = Field(ge=1, le=14)
    unit: Literal["celsius", "fahrenheit"]
    tags: list[str]
    note: str | None


def test_json_schema_response_format(emulator: Emulator) -> None:
    client = sdk(emulator)
    prompt: Any = [{"role": "user", "content": "Forecast for Lyon over 5 days"}]
    parsed = client.chat.completions.parse(model=MODEL, messages=prompt, response_format=Forecast)
    forecast = parsed.choices[0].message.parsed
    assert forecast is not None
    assert forecast.city == "Lyon"
    assert forecast.days == 5
    assert forecast.unit == "celsius"
    sent = emulator.requests[-1].json
    assert sent is not None
    schema = sent["response_format"]["json_schema"]["schema"]
    content = parsed.choices[0].message.content
    assert content is not None
    assert schema_errors(json.loads(content), schema) == []


def test_json_object_response_format(emulator: Emulator) -> None:
    client = sdk(emulator)
    reply = client.chat.completions.create(
        model=MODEL, messages=HELLO, response_format={"type": "json_object"}
    )
    assert json.loads(reply.choices[0].message.content or "") == {"answer": "Hi there"}
    keyed: Any = [{"role": "user", "content": "A cat joke as JSON with 'setup' and 'punchline'"}]
    reply = client.chat.completions.create(
        model=MODEL, messages=keyed, response_format={"type": "json_object"}
    )
    joke = json.loads(reply.choices[0].message.content or "")
    assert set(joke) == {"setup", "punchline"}
    assert all(isinstance(v, str) for v in joke.values())


def test_n_stop_and_max_tokens(emulator: Emulator) -> None:
    client = sdk(emulator)
    three: Any = [{"role": "user", "content": "one two three"}]
    two = client.chat.completions.create(model=MODEL, messages=HELLO, n=2)
    assert [c.index for c in two.choices] == [0, 1]
    assert {c.message.content for c in two.choices} == {"Hello! You said: Hi there"}
    assert two.usage is not None
    assert two.usage.completion_tokens == 10

    stopped = client.chat.completions.create(model=MODEL, messages=three, stop=[" two", "zzz"])
    assert stopped.choices[0].message.content == "Hello! You said: one"
    assert stopped.choices[0].finish_reason == "stop"
    assert stopped.usage is not None
    assert stopped.usage.completion_tokens == 4
    single = client.chat.completions.create(model=MODEL, messages=three, stop="three")
    assert single.choices[0].message.content == "Hello! You said: one two "

    short = client.chat.completions.create(model=MODEL, messages=three, max_tokens=2)
    assert short.choices[0].message.content == "Hello! You"
    assert short.choices[0].finish_reason == "length"
    assert short.usage is not None
    assert short.usage.completion_tokens == 2
    newer = client.chat.completions.create(model=MODEL, messages=three, max_completion_tokens=3)
    assert newer.choices[0].message.content == "Hello! You said:"
    roomy = client.chat.completions.create(model=MODEL, messages=three, max_tokens=100)
    assert roomy.choices[0].finish_reason == "stop"


def test_reasoning_model(emulator: Emulator) -> None:
    client = sdk(emulator)
    reply = client.chat.completions.create(
        model="emulator-reasoner", messages=[{"role": "user", "content": "hi"}]
    )
    message = reply.choices[0].message
    assert getattr(message, "reasoning_content", None) == "Thinking about: hi"
    assert message.content == "Hello! You said: hi"
    usage = reply.usage
    assert usage is not None
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 3
    assert usage.completion_tokens == 3 + 4

    chunks = list(
        client.chat.completions.create(
            model="deepseek-reasoner", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    kinds = []
    for chunk in chunks[1:-1]:
        delta = chunk.choices[0].delta
        kinds.append("reasoning" if getattr(delta, "reasoning_content", None) else "content")
    assert kinds == ["reasoning"] * 3 + ["content"] * 4
    thought = "".join(getattr(c.choices[0].delta, "reasoning_content", "") or "" for c in chunks)
    assert thought == "Thinking about: hi"


def test_cached_tokens_parameter(emulator: Emulator) -> None:
    reply = sdk(emulator).chat.completions.create(
        model=MODEL, messages=HELLO, extra_body={"emulator_cached_tokens": 4}
    )
    assert reply.usage is not None
    assert reply.usage.prompt_tokens_details is not None
    assert reply.usage.prompt_tokens_details.cached_tokens == 4


def test_embeddings(emulator: Emulator) -> None:
    client = sdk(emulator)
    docs = ["the cat sat on the mat", "dogs chase cats in the park", "stock prices rose sharply"]
    floats = client.embeddings.create(
        model="text-embedding-3-small", input=docs, encoding_format="float", dimensions=32
    )
    assert [d.index for d in floats.data] == [0, 1, 2]
    assert all(len(d.embedding) == 32 for d in floats.data)
    assert all(abs(math.fsum(x * x for x in d.embedding) - 1) < 1e-9 for d in floats.data)
    assert floats.usage.prompt_tokens == floats.usage.total_tokens == 6 + 6 + 4
    assert floats.model == "text-embedding-3-small"

    decoded = client.embeddings.create(model="text-embedding-3-small", input=docs)  # base64
    sent = emulator.requests[-1].json
    assert sent is not None
    assert sent["encoding_format"] == "base64"
    assert all(len(d.embedding) == 64 for d in decoded.data)
    query = client.embeddings.create(model="text-embedding-3-small", input="a cat on a mat")
    scores = [cosine(query.data[0].embedding, d.embedding) for d in decoded.data]
    assert scores.index(max(scores)) == 0
    again = client.embeddings.create(model="text-embedding-3-small", input="a cat on a mat")
    assert again.data[0].embedding == query.data[0].embedding

    tokens = client.embeddings.create(model="text-embedding-3-large", input=[[1, 2, 3], [4]])
    assert len(tokens.data) == 2
    assert tokens.usage.prompt_tokens == 4
    with pytest.raises(openai.NotFoundError) as info:
        client.embeddings.create(model="nope", input="x")
    assert info.value.code == "model_not_found"


def test_embeddings_base64_raw(emulator: Emulator, http: httpx.Client) -> None:
    body = {"model": "text-embedding-3-small", "input": "hello", "encoding_format": "base64"}
    data = http.post("/embeddings", json={**body, "dimensions": 8}).json()
    packed = base64.b64decode(data["data"][0]["embedding"])
    vector = struct.unpack("<8f", packed)
    floats = http.post("/embeddings", json={**body, "encoding_format": "float", "dimensions": 8})
    assert vector == pytest.approx(floats.json()["data"][0]["embedding"], abs=1e-6)
    CreateEmbeddingResponse.model_validate(floats.json())


def test_models_list(emulator: Emulator) -> None:
    models = list(sdk(emulator).models.list())
    assert [m.id for m in models] == list(DEFAULT_MODELS)
    assert all(m.owned_by == "holysheep" and m.object == "model" for m in models)
    assert emulator.attempts("/models") == 1


@pytest.mark.loopback  # an Emulator of its own
def test_custom_models_and_api_key() -> None:
    with Emulator(models=["only-model"], api_key="secret") as emu:
        good = openai.OpenAI(base_url=emu.base_url, api_key="secret", max_retries=0)
        bad = openai.OpenAI(base_url=emu.base_url, api_key="wrong", max_retries=0)
        _SDK_CLIENTS.extend([good, bad])
        assert [m.id for m in good.models.list()] == ["only-model"]
        with pytest.raises(openai.NotFoundError) as info:
            good.chat.completions.create(model=MODEL, messages=HELLO)
        assert info.value.code == "model_not_found"
        assert "Available models: only-model" in str(info.value.message)
        with pytest.raises(openai.AuthenticationError):
            bad.chat.completions.create(model="only-model", messages=HELLO)


def test_protocol_errors(emulator: Emulator, http: httpx.Client) -> None:
    missing = httpx.post(f"{emulator.base_url}/chat/completions", json=chat_body())
    assert missing.status_code == 401
    empty = http.post("/chat/completions", json=chat_body(), headers={"Authorization": "Bearer"})
    assert empty.status_code == 401
    unknown = http.post("/chat/completions", json=chat_body(model="gpt-99"))
    assert unknown.status_code == 404
    error = unknown.json()["error"]
    assert error["code"] == "model_not_found"
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("Model 'gpt-99' not found. Available models: ")
    assert http.post("/nope", json={}).status_code == 404
    assert http.get("/chat/completions").status_code == 404
    garbage = http.post("/chat/completions", content=b"{not json")
    assert garbage.status_code == 400
    assert http.post("/chat/completions", json=chat_body(messages=[])).status_code == 400
    no_prefix = httpx.post(
        f"http://127.0.0.1:{emulator.port}/chat/completions", json=chat_body(), headers=AUTH
    )
    assert no_prefix.status_code == 200
    ids = [r.headers["x-request-id"] for r in (missing, empty, unknown, garbage, no_prefix)]
    assert all(i.startswith("req_") for i in ids)
    assert len(set(ids)) == len(ids)
    assert len(emulator.requests) == 8
    assert emulator.requests[5].json is None
    assert emulator.requests[5].body == b"{not json"


def test_keep_alive_across_stream(emulator: Emulator, http: httpx.Client) -> None:
    assert http.post("/chat/completions", json=chat_body()).status_code == 200
    assert http.post("/chat/completions", json=chat_body(stream=True)).text.endswith("[DONE]\n\n")
    assert http.get("/models").status_code == 200
    assert emulator.connections_opened == 1
    assert emulator.attempts() == 2


# -- strict validation with the SDK's own types --------------------------------------------
def test_raw_replies_validate_with_sdk_types(emulator: Emulator, http: httpx.Client) -> None:
    bodies = [
        chat_body(),
        chat_body(model="emulator-reasoner", n=2, max_tokens=3),
        chat_body(messages=TOOL_PROMPT, tools=[WEATHER_TOOL, TIME_TOOL]),
        chat_body(response_format={"type": "json_object"}),
    ]
    for body in bodies:
        plain = http.post("/chat/completions", json=body).json()
        ChatCompletion.model_validate(plain, strict=True)
        streamed = http.post(
            "/chat/completions",
            json={**body, "stream": True, "stream_options": {"include_usage": True}},
        )
        chunks = stream_json(streamed.text)
        for chunk in chunks:
            ChatCompletionChunk.model_validate(chunk, strict=True)
        assert chunks[-1]["usage"] == plain["usage"]
    for model in http.get("/models").json()["data"]:
        Model.model_validate(model, strict=True)


def test_replies_match_openapi_schemas(emulator: Emulator, http: httpx.Client) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schemas = REFERENCE / "schemas"
    if not schemas.is_dir():
        pytest.skip("reference schemas not available")

    def check(name: str, instance: Any) -> None:
        schema = json.loads((schemas / f"{name}.schema.json").read_text())
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(instance))
        assert not errors, [e.message for e in errors]

    check("CreateChatCompletionResponse", http.post("/chat/completions", json=chat_body()).json())
    tools = chat_body(messages=TOOL_PROMPT, tools=[WEATHER_TOOL])
    check("CreateChatCompletionResponse", http.post("/chat/completions", json=tools).json())
    streamed = http.post("/chat/completions", json=chat_body(stream=True))
    for chunk in stream_json(streamed.text):
        check("CreateChatCompletionStreamResponse", chunk)
    check("ListModelsResponse", http.get("/models").json())
    embedding = {"model": "text-embedding-3-small", "input": "x"}
    check("CreateEmbeddingResponse", http.post("/embeddings", json=embedding).json())
    check("ErrorResponse", http.post("/chat/completions", json=chat_body(model="x")).json())


# -- conformance with recorded real exchanges --------------------------------------------
# OpenAI's per-chunk padding and a non-spec model field: meaningless to clients
IGNORED_KEYS = {"obfuscation", "shutdown_date"}


def assert_covers(ours: Any, theirs: Any, where: str = "$") -> None:
    """Every key the real reply has (recursively) is present in ours, with a like type."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), f"{where}: expected an object"
        for key, value in theirs.items():
            if key in IGNORED_KEYS:
                continue
            assert key in ours, f"{where}: missing {key!r}"
            if value is not None and ours[key] is not None:
                assert_covers(ours[key], value, f"{where}.{key}")
    elif isinstance(theirs, list) and theirs and isinstance(ours, list) and ours:
        assert_covers(ours[0], theirs[0], f"{where}[0]")
    elif theirs is not None and ours is not None:
        assert isinstance(ours, type(theirs)) or {type(ours), type(theirs)} <= {int, float}, where


def reference(name: str) -> dict[str, Any]:
    path = REFERENCE / "exchanges" / name
    if not path.is_file():
        pytest.skip(f"reference exchange {name} not available")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def reference_json(name: str, index: int = 0) -> Any:
    body = reference(name)["exchanges"][index]["response"]["body"]
    return body.get("json") if body.get("json") is not None else json.loads(body["raw"])


def test_conformance_with_recorded_exchanges(emulator: Emulator, http: httpx.Client) -> None:
    text = http.post("/chat/completions", json=chat_body()).json()
    assert_covers(text, reference_json("oai-chat-nonstream-text.json"))
    tool_reply = http.post(
        "/chat/completions", json=chat_body(messages=TOOL_PROMPT, tools=[WEATHER_TOOL])
    )
    assert_covers(tool_reply.json(), reference_json("oai-chat-nonstream-tool-call.json"))
    short = http.post("/chat/completions", json=chat_body(max_completion_tokens=1)).json()
    real_short = reference_json("oai-chat-nonstream-finish-length.json")
    assert_covers(short, real_short)
    assert short["choices"][0]["finish_reason"] == real_short["choices"][0]["finish_reason"]

    for name, body in [
        ("oai-chat-stream-text-include-usage.0.sse", chat_body()),
        (
            "oai-chat-stream-tool-call-include-usage.0.sse",
            chat_body(messages=TOOL_PROMPT, tools=[WEATHER_TOOL]),
        ),
    ]:
        path = REFERENCE / "exchanges" / name
        if not path.is_file():
            pytest.skip(f"reference stream {name} not available")
        real_text = path.read_text()
        ours_text = http.post(
            "/chat/completions",
            json={**body, "stream": True, "stream_options": {"include_usage": True}},
        ).text
        # identical framing: "data: <compact json>\n\n" events, ending with [DONE]
        assert ours_text.endswith("data: [DONE]\n\n")
        assert real_text.endswith("data: [DONE]\n\n")
        assert all(
            e.startswith("data: {") or e == "data: [DONE]" for e in ours_text.split("\n\n")[:-1]
        )
        real, ours = stream_json(real_text), stream_json(ours_text)
        assert_covers(ours[0], real[0])  # role chunk
        assert_covers(ours[1], real[1])  # first content / tool-call delta
        assert_covers(ours[2], real[2])  # later delta
        assert_covers(ours[-2], real[-2])  # finish chunk
        assert_covers(ours[-1], real[-1])  # usage chunk
        assert ours[-1]["choices"] == real[-1]["choices"] == []
        assert set(ours[-2]["choices"][0]["delta"]) == set(real[-2]["choices"][0]["delta"])

    embedding = {"model": "text-embedding-3-small", "input": "x", "dimensions": 8}
    assert_covers(
        http.post("/embeddings", json=embedding).json(),
        reference_json("oai-embeddings-float-dimensions.json"),
    )
    assert_covers(http.get("/models").json(), reference_json("oai-models-list-200.json"))
    unknown = http.post("/chat/completions", json=chat_body(model="x")).json()
    assert_covers(unknown, reference_json("oai-error-404-model-not-found.json"))
    denied = httpx.get(f"{emulator.base_url}/models")
    assert denied.status_code == 401
    assert_covers(denied.json(), reference_json("oai-models-list-401.json"))
    assert "www-authenticate" in denied.headers


# -- faults ----------------------------------------------------------------------------------
def test_add_fault_validation_and_queue(emulator: Emulator, http: httpx.Client) -> None:
    with pytest.raises(ValueError, match="unknown fault kind 'no_such_fault'"):
        emulator.add_fault("no_such_fault")
    assert "rate_limit" in FAULT_KINDS
    assert "multi_line_data" in FAULT_KINDS
    emulator.add_fault("rate_limit", times=2)
    emulator.add_fault("server_error")
    emulator.add_fault("status", path="/models", status=418, body={"error": {"message": "tea"}})
    assert emulator.faults_pending == 4
    statuses = [http.post("/chat/completions", json=chat_body()).status_code for _ in range(4)]
    assert statuses == [429, 429, 500, 200]
    assert http.get("/models").status_code == 418
    assert emulator.attempts() == 4
    assert emulator.attempts("/models") == 1
    assert emulator.faults_pending == 0
    emulator.add_fault("server_error", path="*")
    assert http.get("/models").status_code == 500
    emulator.add_fault("server_error")
    emulator.reset()
    assert emulator.faults_pending == 0
    assert emulator.requests == []
    assert http.post("/chat/completions", json=chat_body()).headers["x-request-id"] == "req_1"


def test_recorded_requests_carry_their_arrival_time(emulator: Emulator, http: httpx.Client) -> None:
    before = time.time()
    emulator.add_fault("slow_headers", delay=0.2)
    assert http.post("/chat/completions", json=chat_body()).status_code == 200
    answered = time.time()
    assert http.get("/models").status_code == 200
    first, second = emulator.requests
    # stamped on arrival, before the fault held the reply back
    assert before <= first.received_at <= answered - 0.2
    assert first.received_at <= second.received_at <= time.time()
    assert RecordedRequest("GET", "/models", {}, None).received_at >= before  # a default


def test_rate_limit_variants(emulator: Emulator, http: httpx.Client) -> None:
    emulator.add_fault("rate_limit")
    first = http.post("/chat/completions", json=chat_body())
    assert first.status_code == 429
    assert first.headers["retry-after"] == "1"
    assert first.json() == {
        "error": {
            "message": "Rate limit exceeded",
            "type": "rate_limit_error",
            "code": "rate_limit_exceeded",
        }
    }
    emulator.add_fault("rate_limit", retry_after_ms=250, body_style="bare")
    ms = http.post("/chat/completions", json=chat_body())
    assert ms.headers["retry-after-ms"] == "250"
    assert "retry-after" not in ms.headers
    assert ms.json() == {"error": "rate_limit_exceeded", "retry_after": 5}
    emulator.add_fault("rate_limit", retry_after=30, http_date=True, body_style="anthropic")
    dated = http.post("/chat/completions", json=chat_body())
    wait = parsedate_to_datetime(dated.headers["retry-after"]).timestamp() - time.time()
    assert 25 < wait <= 31
    assert dated.json()["error"]["type"] == "rate_limit_error"
    emulator.add_fault("rate_limit", retry_after=None)
    assert "retry-after" not in http.post("/chat/completions", json=chat_body()).headers
    emulator.add_fault("rate_limit", retry_after=0)
    with pytest.raises(openai.RateLimitError):
        sdk(emulator).chat.completions.create(model=MODEL, messages=HELLO)


def test_error_faults(emulator: Emulator, http: httpx.Client) -> None:
    def hit() -> httpx.Response:
        return http.post("/chat/completions", json=chat_body())

    emulator.add_fault("server_error", status=503)
    reply = hit()
    assert reply.status_code == 503
    assert reply.json() == {"error": {"message": "Internal server error", "type": "server_error"}}
    emulator.add_fault("html_error")
    reply = hit()
    assert reply.status_code == 502
    assert reply.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in reply.text
    emulator.add_fault(
        "status", status=409, body={"error": {"message": "busy"}}, headers={"x-a": "1"}
    )
    reply = hit()
    assert (reply.status_code, reply.json(), reply.headers["x-a"]) == (
        409,
        {"error": {"message": "busy"}},
        "1",
    )
    emulator.add_fault("auth_error")
    reply = hit()
    assert reply.status_code == 401
    assert reply.json() == {
        "error": {"code": "invalid_api_key", "message": "Authentication failed"}
    }
    emulator.add_fault("forbidden")
    assert hit().status_code == 403
    emulator.add_fault("context_length")
    reply = hit()
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "context_length_exceeded"
    assert reply.json()["error"]["param"] == "messages"
    assert all(r.headers["x-request-id"].startswith("req_") for r in [reply])
    assert hit().status_code == 200
    assert emulator.attempts() == 7


def test_reject_stream_options(emulator: Emulator, http: httpx.Client) -> None:
    with_options = chat_body(stream=True, stream_options={"include_usage": True})
    emulator.add_fault("reject_stream_options")
    assert http.post("/chat/completions", json=chat_body(stream=True)).status_code == 200
    assert emulator.faults_pending == 1  # not consumed: no stream_options in that request
    rejected = http.post("/chat/completions", json=with_options)
    assert rejected.status_code == 400
    assert rejected.json()["error"]["code"] == "unsupported_parameter"
    assert rejected.json()["error"]["param"] == "stream_options"
    assert http.post("/chat/completions", json=with_options).status_code == 200
    emulator.reject_stream_options = True
    assert http.post("/chat/completions", json=with_options).status_code == 400
    assert http.post("/chat/completions", json=with_options).status_code == 400
    assert http.post("/chat/completions", json=chat_body()).status_code == 200
    emulator.reset()
    assert http.post("/chat/completions", json=with_options).status_code == 200
    with Emulator(reject_stream_options=True) as never:
        denied = httpx.post(f"{never.base_url}/chat/completions", json=with_options, headers=AUTH)
        assert denied.status_code == 400


def test_slow_headers_and_slow_stream(emulator: Emulator, http: httpx.Client) -> None:
    emulator.add_fault("slow_headers", delay=0.3)
    with pytest.raises(httpx.ReadTimeout):
        http.post("/chat/completions", json=chat_body(), timeout=0.1)
    emulator.add_fault("slow_headers", delay=0.1)
    started = time.monotonic()
    assert http.post("/chat/completions", json=chat_body()).status_code == 200
    assert time.monotonic() - started >= 0.1
    emulator.add_fault("slow_stream", delay=0.03, after=1)
    started = time.monotonic()
    arrivals = []
    with http.stream("POST", "/chat/completions", json=chat_body(stream=True)) as response:
        for line in response.iter_lines():
            if line.startswith("data:"):
                arrivals.append(time.monotonic() - started)
    assert len(arrivals) == 8  # role, 5 words, finish, [DONE]
    assert arrivals[-1] >= 7 * 0.03
    started = time.monotonic()
    http.post("/chat/completions", json=chat_body(stream=True, emulator_chunk_delay=0.02))
    assert time.monotonic() - started >= 7 * 0.02


def test_reset_before(emulator: Emulator, http: httpx.Client) -> None:
    emulator.add_fault("reset_before")
    received, ending = raw_exchange(emulator, chat_body())
    assert (received, ending) == (b"", "reset")
    emulator.add_fault("reset_before")
    with pytest.raises(httpx.TransportError):
        http.post("/chat/completions", json=chat_body())
    assert http.post("/chat/completions", json=chat_body()).status_code == 200
    assert emulator.attempts() == 3
    assert emulator.connections_opened == 3  # the reset killed the keep-alive connection


def test_reset_during_stream(emulator: Emulator, http: httpx.Client) -> None:
    emulator.add_fault("reset_during_stream", after=2)
    received, ending = raw_exchange(emulator, chat_body(stream=True))
    assert ending == "reset"
    assert b"text/event-stream" in received
    assert b"[DONE]" not in received
    assert len(stream_json(b"".join(http_chunks(received)).decode())) == 2
    emulator.add_fault("reset_during_stream", after=3)
    lines: list[str] = []
    with pytest.raises(httpx.TransportError):  # noqa: SIM117
        with http.stream("POST", "/chat/completions", json=chat_body(stream=True)) as response:
            lines.extend(line for line in response.iter_lines() if line)
    assert len(lines) == 3
    emulator.add_fault("reset_during_stream")  # non-stream request: reset before any reply
    with pytest.raises(httpx.TransportError):
        http.post("/chat/completions", json=chat_body())


def test_truncated_stream(emulator: Emulator, http: httpx.Client) -> None:
    emulator.add_fault("truncated_stream", after=3)
    response = http.post("/chat/completions", json=chat_body(stream=True))
    chunks = stream_json(response.text)
    assert len(chunks) == 3
    assert "[DONE]" not in response.text
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)
    emulator.add_fault("truncated_stream", after=99)  # never reaches finish_reason
    chunks = stream_json(http.post("/chat/completions", json=chat_body(stream=True)).text)
    assert len(chunks) == 6
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)
    assert http.post("/chat/completions", json=chat_body()).status_code == 200
    assert emulator.connections_opened == 1  # body ended cleanly: connection reused
    emulator.add_fault("truncated_stream")
    with pytest.raises(httpx.RemoteProtocolError):
        http.post("/chat/completions", json=chat_body())


def test_malformed_chunk(emulator: Emulator, http: httpx.Client) -> None:
    emulator.add_fault("malformed_chunk", after=2)
    events = parse_sse(http.post("/chat/completions", json=chat_body(stream=True)).text)
    assert events[2] == ("message", "{not json")
    assert events[-1] == ("message", "[DONE]")
    assert len(events) == 9
    emulator.add_fault("malformed_chunk")
    reply = http.post("/chat/completions", json=chat_body())
    assert reply.status_code == 200
    assert reply.content == b"{not json"


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ("data", ("message", "error")),
        ("event", ("error", "error")),
        ("finish_reason", ("message", "finish")),
    ],
)
def test_error_chunk(
    emulator: Emulator, http: httpx.Client, style: str, expected: tuple[str, str]
) -> None:
    emulator.add_fault("error_chunk", after=2, style=style)
    events = parse_sse(http.post("/chat/completions", json=chat_body(stream=True)).text)
    assert len(events) == 3
    event, data = events[2]
    payload = json.loads(data)
    assert event == expected[0]
    if expected[1] == "error":
        assert payload["error"]["code"] == "upstream_error"
    else:
        assert payload["choices"][0]["finish_reason"] == "error"
    emulator.add_fault("error_chunk", style=style)
    stream = sdk(emulator).chat.completions.create(model=MODEL, messages=HELLO, stream=True)
    if expected[1] == "error":
        with pytest.raises(openai.APIError, match="upstream overloaded"):
            list(stream)
    else:
        finish: Any = list(stream)[-1].choices[0].finish_reason  # not in the SDK's Literal
        assert finish == "error"


def test_error_chunk_non_stream_and_done(emulator: Emulator, http: httpx.Client) -> None:
    emulator.add_fault("error_chunk", done=True)
    events = parse_sse(http.post("/chat/completions", json=chat_body(stream=True)).text)
    assert events[-1] == ("message", "[DONE]")
    emulator.add_fault("error_chunk")
    reply = http.post("/chat/completions", json=chat_body())
    assert reply.status_code == 200
    assert reply.json()["error"]["code"] == "upstream_error"


def test_keepalive_crlf_and_multi_line(emulator: Emulator, http: httpx.Client) -> None:
    plain = stream_json(http.post("/chat/completions", json=chat_body(stream=True)).text)
    emulator.reset()
    emulator.add_fault("keepalive")
    text = http.post("/chat/completions", json=chat_body(stream=True)).text
    assert text.startswith(": keep-alive\n\n")
    assert ": PING\n\n" in text
    assert stream_json(text) == plain
    emulator.reset()
    emulator.add_fault("crlf")
    raw = http.post("/chat/completions", json=chat_body(stream=True)).content
    assert raw.endswith(b"data: [DONE]\r\n\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert stream_json(raw.decode()) == plain
    emulator.reset()
    emulator.add_fault("multi_line_data")
    text = http.post("/chat/completions", json=chat_body(stream=True)).text
    first_event = text.split("\n\n")[0].split("\n")
    assert len(first_event) == 2
    assert all(line.startswith("data: ") for line in first_event)
    assert stream_json(text) == plain
    for kind in ("keepalive", "crlf", "multi_line_data"):
        emulator.add_fault(kind)
        chunks = list(
            sdk(emulator).chat.completions.create(model=MODEL, messages=HELLO, stream=True)
        )
        assert (
            "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello! You said: Hi there"
        )


def test_split_bytes(emulator: Emulator, http: httpx.Client) -> None:
    prompt: Any = [{"role": "user", "content": "héllo wörld 日本語 ✓"}]
    emulator.add_fault("split_bytes")
    received, _ = raw_exchange(emulator, chat_body(messages=prompt, stream=True))
    pieces = http_chunks(received)
    assert pieces
    assert all(1 <= len(p) <= 3 for p in pieces)
    with pytest.raises(UnicodeDecodeError):  # some piece splits a character
        "".join(piece.decode("utf-8") for piece in pieces)
    text = b"".join(pieces).decode()
    content = "".join(
        c["choices"][0]["delta"].get("content") or "" for c in stream_json(text) if c["choices"]
    )
    assert content == "Hello! You said: héllo wörld 日本語 ✓"
    emulator.add_fault("split_bytes")
    chunks = list(sdk(emulator).chat.completions.create(model=MODEL, messages=prompt, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks).endswith("日本語 ✓")
    emulator.add_fault("split_bytes")
    assert http.post("/chat/completions", json=chat_body(messages=prompt)).json()["choices"]


def test_repeated_usage(emulator: Emulator, http: httpx.Client) -> None:
    body = chat_body(stream=True, stream_options={"include_usage": True})
    expected = http.post("/chat/completions", json=chat_body()).json()["usage"]
    emulator.add_fault("repeated_usage")
    chunks = stream_json(http.post("/chat/completions", json=body).text)
    assert all(c.get("usage") for c in chunks)
    assert chunks[-1]["usage"] == expected
    assert sum(c["usage"]["completion_tokens"] for c in chunks) > expected["completion_tokens"]
    completions = [c["usage"]["completion_tokens"] for c in chunks]
    assert completions == sorted(completions)
    emulator.add_fault("repeated_usage")
    chunks = stream_json(http.post("/chat/completions", json=chat_body(stream=True)).text)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == expected


def tool_deltas(text: str) -> list[dict[str, Any]]:
    return [
        d
        for c in stream_json(text)
        if c["choices"]
        for d in c["choices"][0]["delta"].get("tool_calls", [])
    ]


def test_tool_stream_quirks(emulator: Emulator, http: httpx.Client) -> None:
    body = chat_body(messages=TOOL_PROMPT, tools=[WEATHER_TOOL, TIME_TOOL], stream=True)
    emulator.add_fault("tool_index_shared")
    deltas = tool_deltas(http.post("/chat/completions", json=body).text)
    heads = [d for d in deltas if "id" in d]
    assert [h["function"]["name"] for h in heads] == ["get_weather", "get_time"]
    assert len({h["id"] for h in heads}) == 2
    assert {d["index"] for d in deltas} == {0}

    emulator.add_fault("tool_index_missing")
    deltas = tool_deltas(http.post("/chat/completions", json=body).text)
    assert deltas
    assert all("index" not in d for d in deltas)
    assert [d["function"]["name"] for d in deltas if "id" in d] == ["get_weather"]

    emulator.add_fault("tool_repeat_id_name")
    deltas = tool_deltas(http.post("/chat/completions", json=body).text)
    assert len(deltas) > 2
    assert all(
        d["id"] == deltas[0]["id"] and d["function"]["name"] == "get_weather" for d in deltas
    )
    arguments = "".join(d["function"]["arguments"] for d in deltas)
    assert json.loads(arguments)["city"] == "Paris"


def test_stream_faults_ignored_without_stream(emulator: Emulator, http: httpx.Client) -> None:
    for kind in ("keepalive", "crlf", "repeated_usage", "tool_index_shared", "multi_line_data"):
        emulator.add_fault(kind)
        reply = http.post("/chat/completions", json=chat_body())
        assert reply.status_code == 200
        assert reply.json()["choices"][0]["message"]["content"]
    assert emulator.faults_pending == 0


def test_faults_on_other_paths(emulator: Emulator, http: httpx.Client) -> None:
    embedding = {"model": "text-embedding-3-small", "input": "x"}
    emulator.add_fault("rate_limit", path="/embeddings")
    assert http.post("/chat/completions", json=chat_body()).status_code == 200
    assert http.post("/embeddings", json=embedding).status_code == 429
    emulator.add_fault("reset_before", path="/v1/models")
    with pytest.raises(httpx.TransportError):
        http.get("/models")
    assert http.get("/models").status_code == 200
    assert [r.path for r in emulator.requests] == [
        "/chat/completions",
        "/embeddings",
        "/models",
        "/models",
    ]


def test_relay_env_fixture(relay_env: Emulator) -> None:
    import os

    assert os.environ["HOLYSHEEP_API_KEY"] == TEST_API_KEY
    assert os.environ["HOLYSHEEP_BASE_URL"] == relay_env.base_url
    assert relay_env.requests == []


# -- tokens and synthesiser -------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", "a", " lead", "trail ", "two  words\n", "x\ty z"])
def test_split_words(text: str) -> None:
    pieces = split_words(text)
    assert "".join(pieces) == text
    if text.strip():
        assert len(pieces) == count_tokens(text)


NESTED: Any = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 3},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "score": {"type": "number", "exclusiveMaximum": 1},
        "active": {"type": "boolean"},
        "address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "zip": {"type": "string", "maxLength": 5}},
            "required": ["street", "zip"],
        },
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "color": {"type": "string", "enum": ["red", "green"]},
        "kind": {"const": "person"},
        "when": {"type": "string", "format": "date"},
    },
    "required": ["name", "age", "score", "active", "address", "tags", "color", "kind", "when"],
    "additionalProperties": False,
}
WITH_REFS: Any = {
    "$defs": {
        "Item": {
            "type": "object",
            "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
            "required": ["sku", "qty"],
        },
        "Node": {
            "type": "object",
            "properties": {
                "label": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                "parent": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]},
            },
            "required": ["label", "children", "parent"],
        },
    },
    "type": "object",
    "properties": {
        "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
        "note": {"anyOf": [{"type": "null"}, {"type": "string"}], "default": None},
        "limit": {"oneOf": [{"type": "integer"}, {"type": "string", "format": "email"}]},
        "mode": {"type": ["null", "string"], "enum": [None, "fast"]},
        "tree": {"$ref": "#/$defs/Node"},
        "both": {"allOf": [{"$ref": "#/$defs/Item"}, {"properties": {"x": {"type": "boolean"}}}]},
    },
    "required": ["items", "note", "limit", "mode", "tree", "both"],
}


class Inner(BaseModel):
    label: str
    weight: float = Field(gt=0, le=10)


class Outer(BaseModel):
    title: str
    count: int = Field(ge=5, multiple_of=5)
    inner: Inner
    extras: list[Inner]
    maybe: Inner | None
    when: date
    choice: Literal["a", "b"] = "b"


@pytest.mark.parametrize("schema", [NESTED, WITH_REFS, Outer.model_json_schema()])
@pytest.mark.parametrize("prompt", ["", "Order 7 widgets for Alice, 2 of them blue", "x 3.5 y -2"])
def test_synthesize_is_valid(schema: dict[str, Any], prompt: str) -> None:
    value = synthesize(schema, prompt)
    assert schema_errors(value, schema) == []
    assert synthesize(schema, prompt) == value  # deterministic
    assert json.loads(json.dumps(value)) == value
    jsonschema = optional_jsonschema()  # the hand-written checker above always runs
    if jsonschema is not None:
        assert not list(jsonschema.Draft202012Validator(schema).iter_errors(value))


def test_synthesize_uses_the_prompt() -> None:
    value = synthesize(NESTED, "Ask Bob whether 42 people scored 0.5")
    assert value["name"] == "Bob"
    assert value["age"] == 42
    assert value["score"] == 0.5
    assert value["color"] == "red"
    assert value["kind"] == "person"
    assert value["active"] is True
    assert value["when"] == "2024-01-01"
    assert len(value["tags"]) == 2
    assert set(value) == set(NESTED["required"])
    refs = synthesize(WITH_REFS, "")
    assert refs["note"] is None or isinstance(refs["note"], str)
    assert refs["items"] == [{"sku": "example", "qty": 3}]
    assert refs["mode"] == "fast" or refs["mode"] is None
    assert Outer.model_validate(synthesize(Outer.model_json_schema(), "Title 12")).count == 15
    quoted = synthesize(NESTED, "Create a customer named '你好啊集团' (Hello Group)")
    assert quoted["name"] == "你好啊集团"
    assert quoted["address"]["street"] == "Hello"


def test_schema_errors_detects_problems() -> None:
    assert schema_errors({"name": 1}, NESTED)
    assert schema_errors({"sku": "a"}, WITH_REFS["$defs"]["Item"], WITH_REFS)
    assert schema_errors(True, {"type": "integer"})
    assert schema_errors(4, {"type": "integer", "multipleOf": 3})
    assert schema_errors("x", {"oneOf": [{"type": "string"}, {"type": "string"}]})
    assert schema_errors([1, 1], {"type": "array", "uniqueItems": True})
    assert not schema_errors(None, {"anyOf": [{"type": "string"}, {"type": "null"}]})


@pytest.mark.loopback  # an Emulator of its own
def test_hung_up_client_frees_the_handler() -> None:
    with Emulator() as emu:  # private server: no idle connections left by other tests
        emu.add_fault("slow_stream", delay=5, after=2)
        with (
            httpx.Client(base_url=emu.base_url, headers=AUTH, timeout=5) as client,
            client.stream("POST", "/chat/completions", json=chat_body(stream=True)) as response,
        ):
            lines = response.iter_lines()  # keep the generator: closing it closes the socket
            assert next(lines).startswith("data: ")
            assert next(lines) == ""
            assert next(lines).startswith("data: ")
            assert emu.active_connections == 1
        deadline = time.monotonic() + 1
        while emu.active_connections and time.monotonic() < deadline:
            time.sleep(0.01)
        assert emu.active_connections == 0  # did not sleep out the remaining 5 s delays


def test_chunked_request_body(emulator: Emulator) -> None:
    payload = json.dumps(chat_body()).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Authorization: Bearer k\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n%s\r\n" % (10, payload[:10])
        + b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload) - 10, payload[10:])
    )
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200")
    assert emulator.requests[0].json == chat_body()


def test_synthesize_reference_schemas() -> None:
    schemas = sorted((REFERENCE / "schemas").glob("*.schema.json"))
    if not schemas:
        pytest.skip("reference schemas not available")
    jsonschema = optional_jsonschema()
    for path in schemas:
        schema = json.loads(path.read_text())
        value = synthesize(schema, "Order 7 widgets for Alice in Paris")
        assert schema_errors(value, schema) == [], path.name
        if jsonschema is not None:
            assert not list(jsonschema.Draft202012Validator(schema).iter_errors(value)), path.name
