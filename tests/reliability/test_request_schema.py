"""Request building: arbitrary unicode, tool schemas and histories give valid requests.

The JSON each entry point actually sends (captured from the wire) must validate against
OpenAI's ``CreateChatCompletionRequest`` schema, read from
``../shared/reference/openai/schemas/`` (skipped, saying so, when absent), and carry every
string exactly as given: no mangled unicode, no lost or reordered message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from holysheep_relay import RelayClient, RelayError
from holysheep_relay.testing import Emulator
from tests.emulator_fixtures import TEST_API_KEY

jsonschema = pytest.importorskip("jsonschema")

SCHEMA = (
    Path(__file__).resolve().parents[3]
    / "shared/reference/openai/schemas/CreateChatCompletionRequest.schema.json"
)
FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def validator() -> Any:
    if not SCHEMA.is_file():
        pytest.skip(f"OpenAI request schema not found at {SCHEMA}; cannot validate requests")
    document = json.loads(SCHEMA.read_text("utf-8"))
    cls = jsonschema.validators.validator_for(document)
    cls.check_schema(document)
    return cls(document)


def assert_valid(validator: Any, body: dict[str, Any]) -> None:
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message[:200]}" for e in errors]


# -- strategies ------------------------------------------------------------------------

text = st.text(max_size=60)  # all of unicode but lone surrogates (not encodable)
names = st.from_regex(r"[a-zA-Z0-9_-]{1,64}", fullmatch=True)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
properties = st.dictionaries(
    names,
    st.fixed_dictionaries(
        {"type": st.sampled_from(["string", "integer", "number", "boolean", "array", "object"])},
        optional={"description": text, "enum": st.lists(text, min_size=1, max_size=3)},
    ),
    max_size=4,
)
tools = st.lists(
    st.builds(
        lambda name, description, props, extra: {
            "type": "function",
            "function": {
                "name": name,
                "description": description,
                "parameters": {
                    "type": "object",
                    "properties": props,
                    "required": sorted(props)[:1],
                    **extra,
                },
            },
        },
        names,
        text,
        properties,
        st.dictionaries(st.sampled_from(["title", "$comment", "x-extra"]), text, max_size=2),
    ),
    max_size=3,
    unique_by=lambda t: t["function"]["name"],
)


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Plain message dicts: system?, then turns of user / assistant / tool calls + results."""
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(text)})
    for turn in range(draw(st.integers(1, 3))):
        messages.append({"role": "user", "content": draw(text)})
        kind = draw(st.sampled_from(["text", "tools", "end"]))
        if kind == "text":
            messages.append({"role": "assistant", "content": draw(text)})
        elif kind == "tools":
            calls = [
                {"id": f"call_{turn}_{i}", "name": draw(names), "args": draw(json_values)}
                for i in range(draw(st.integers(1, 2)))
            ]
            for call in calls:
                if not isinstance(call["args"], dict):
                    call["args"] = {"value": call["args"]}
            messages.append({"role": "assistant", "content": draw(text), "calls": calls})
            for call in calls:
                messages.append({"role": "tool", "content": draw(text), "tool_call_id": call["id"]})
    return messages


def _wire(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for m in messages:
        if "calls" not in m:
            out.append(m)
            continue
        calls = [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": json.dumps(c["args"])},
            }
            for c in m["calls"]
        ]
        out.append({"role": "assistant", "content": m["content"] or None, "tool_calls": calls})
    return out


def assert_same_strings(sent: dict[str, Any], messages: list[dict[str, Any]]) -> None:
    """Every message arrived, in order, with its text and tool arguments intact."""
    wire = sent["messages"]
    assert [m["role"] for m in wire] == [m["role"] for m in messages]
    for got, given_ in zip(wire, messages, strict=True):
        content = got.get("content")
        if isinstance(content, list):  # text parts
            content = "".join(p["text"] for p in content)
        assert (content or "") == given_["content"]
        if "calls" in given_:
            calls = got["tool_calls"]
            assert [c["id"] for c in calls] == [c["id"] for c in given_["calls"]]
            assert [c["function"]["name"] for c in calls] == [c["name"] for c in given_["calls"]]
            args = [json.loads(c["function"]["arguments"]) for c in calls]
            assert args == [c["args"] for c in given_["calls"]]
        if given_["role"] == "tool":
            assert got["tool_call_id"] == given_["tool_call_id"]


# -- the core, captured through a transport ----------------------------------------------


class Capture:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        reply = {
            "id": "x",
            "object": "chat.completion",
            "model": "gpt-4.1",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "ok"},
                    "finish_reason": "stop",
                }
            ],
        }
        self.reply = json.dumps(reply).encode()
        transport = httpx.MockTransport(self._handle)
        self.client = RelayClient(
            api_key=TEST_API_KEY,
            base_url="http://127.0.0.1:9/v1",
            http_client=httpx.Client(transport=transport),
        )

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))  # must be valid UTF-8 JSON
        if self.bodies[-1].get("stream"):
            sse = (
                b'data: {"id":"x","model":"m","choices":[{"index":0,"delta":{},'
                b'"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
            )
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse)
        return httpx.Response(200, content=self.reply)


@pytest.fixture(scope="module")
def capture() -> Iterator[Capture]:
    cap = Capture()
    yield cap
    cap.client.close()


@FAST
@given(
    messages=histories(),
    tool_list=tools,
    stream=st.booleans(),
    params=st.fixed_dictionaries(
        {},
        optional={
            "temperature": st.floats(0, 2),
            "top_p": st.floats(0, 1),
            "max_tokens": st.integers(1, 100_000),
            "stop": st.lists(text.filter(bool), min_size=1, max_size=4),
            "seed": st.integers(-(2**31), 2**31),
            "user": text,
        },
    ),
)
def test_core_requests_validate_and_keep_every_string(
    validator: Any,
    capture: Capture,
    messages: list[dict[str, Any]],
    tool_list: list[dict[str, Any]],
    stream: bool,
    params: dict[str, Any],
) -> None:
    kw: dict[str, Any] = {"model": "gpt-4.1", "messages": _wire(messages), **params}
    if tool_list:
        kw["tools"] = tool_list
    if stream:
        with capture.client.stream_chat(**kw) as s:
            list(s)
    else:
        capture.client.chat(**kw)
    sent = capture.bodies[-1]
    assert_valid(validator, sent)
    assert_same_strings(sent, messages)
    assert sent.get("tools", []) == tool_list


# -- the adapters, captured on the emulator ------------------------------------------------


def _sent(emulator: Emulator) -> dict[str, Any]:
    body = emulator.requests[-1].json
    assert isinstance(body, dict)
    return body


def _langchain(messages: list[dict[str, Any]]) -> list[Any]:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

    out: list[Any] = []
    for m in messages:
        if m["role"] == "system":
            out.append(SystemMessage(m["content"]))
        elif m["role"] == "user":
            out.append(HumanMessage(m["content"]))
        elif m["role"] == "tool":
            out.append(ToolMessage(m["content"], tool_call_id=m["tool_call_id"]))
        else:
            calls = [
                {"id": c["id"], "name": c["name"], "args": c["args"]} for c in m.get("calls", [])
            ]
            out.append(AIMessage(content=m["content"], tool_calls=calls))
    return out


@FAST
@given(messages=histories(), tool_list=tools, stream=st.booleans())
def test_langchain_requests_validate_and_keep_every_string(
    validator: Any,
    emulator_server: Emulator,
    messages: list[dict[str, Any]],
    tool_list: list[dict[str, Any]],
    stream: bool,
) -> None:
    from langchain_holysheep import ChatHolySheep

    emulator_server.reset()
    llm: Any = ChatHolySheep(
        model="gpt-4.1", api_key=TEST_API_KEY, base_url=emulator_server.base_url, max_retries=0
    )
    if tool_list:
        llm = llm.bind_tools(tool_list)
    try:
        if stream:
            list(llm.stream(_langchain(messages)))
        else:
            llm.invoke(_langchain(messages))
    except RelayError:
        pass  # the emulator may not answer every odd schema; the request is what counts
    sent = _sent(emulator_server)
    assert_valid(validator, sent)
    assert_same_strings(sent, messages)
    assert sent.get("tools", []) == tool_list


def _llama(messages: list[dict[str, Any]]) -> list[Any]:
    from llama_index.core.base.llms.types import ChatMessage, TextBlock, ToolCallBlock

    out = []
    for m in messages:
        if "calls" in m:
            blocks: list[Any] = [TextBlock(text=m["content"])] if m["content"] else []
            blocks += [
                ToolCallBlock(tool_call_id=c["id"], tool_name=c["name"], tool_kwargs=c["args"])
                for c in m["calls"]
            ]
            out.append(ChatMessage(role="assistant", blocks=blocks))
        elif m["role"] == "tool":
            extra = {"tool_call_id": m["tool_call_id"]}
            out.append(ChatMessage(role="tool", content=m["content"], additional_kwargs=extra))
        else:
            out.append(ChatMessage(role=m["role"], content=m["content"]))
    return out


@FAST
@given(
    messages=histories(),
    tool_names=st.lists(names, max_size=3, unique=True),
    description=text,
    stream=st.booleans(),
)
def test_llama_index_requests_validate_and_keep_every_string(
    validator: Any,
    emulator_server: Emulator,
    messages: list[dict[str, Any]],
    tool_names: list[str],
    description: str,
    stream: bool,
) -> None:
    from llama_index.core.tools import FunctionTool

    from llama_index_holysheep import HolySheep

    def lookup(query: str, limit: int = 3) -> str:
        """Look something up."""
        return query

    emulator_server.reset()
    llm = HolySheep(
        model="gpt-4.1", api_key=TEST_API_KEY, base_url=emulator_server.base_url, max_retries=0
    )
    tool_list = [
        FunctionTool.from_defaults(fn=lookup, name=name, description=description or None)
        for name in tool_names
    ]
    history = _llama(messages)
    try:
        if tool_list:
            chat = llm.stream_chat_with_tools if stream else llm.chat_with_tools
            result = chat(tool_list, chat_history=history)
            if stream:
                list(result)
        elif stream:
            list(llm.stream_chat(history))
        else:
            llm.chat(history)
    except RelayError:
        pass
    sent = _sent(emulator_server)
    assert_valid(validator, sent)
    assert_same_strings(sent, messages)
    assert [t["function"]["name"] for t in sent.get("tools", [])] == tool_names
