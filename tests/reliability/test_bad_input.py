"""Bad input: a clear typed error before any network call, through every entry point.

Each case runs through all twelve entry points (core, ChatHolySheep, HolySheep; chat and
stream; sync and async) against the emulator, which must receive nothing. Configuration
mistakes (non-http base URL, plain http to a remote host) are checked on every constructor.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest

from holysheep_relay import (
    AsyncRelayClient,
    ConfigurationError,
    ContextLengthExceededError,
    InvalidInputError,
    RelayClient,
    RelayError,
)
from holysheep_relay.testing import Emulator
from tests.emulator_fixtures import TEST_API_KEY

from .entrypoints import ENTRY_POINTS

USER = {"role": "user", "content": "what time is it?"}
CALL = {"id": "call_1", "name": "clock", "args": {"tz": "UTC"}}


def _assistant_call(args: Any) -> dict[str, Any]:
    return {"role": "assistant", "tool_call": {**CALL, "args": args}}


@dataclass(frozen=True)
class Bad:
    id: str
    messages: list[dict[str, Any]] = field(default_factory=lambda: [USER])
    kwargs: dict[str, Any] = field(default_factory=dict)
    model: str = "gpt-4.1"
    error: type[Exception] = InvalidInputError
    says: str = ""


CASES = [
    Bad("empty-messages", messages=[], says="messages is empty"),
    Bad("unknown-role", messages=[{"role": "wizard", "content": "hi"}], says="'wizard'"),
    Bad(
        "tool-message-without-tool_call_id",
        messages=[USER, _assistant_call({"tz": "UTC"}), {"role": "tool", "content": "noon"}],
        says="without tool_call_id",
    ),
    Bad(
        "unserialisable-tool-arguments",
        messages=[
            USER,
            _assistant_call({"since": datetime.datetime(2026, 1, 1)}),
            {"role": "tool", "content": "noon", "tool_call_id": "call_1"},
        ],
        says="JSON",
    ),
    Bad(
        "nan-tool-arguments",
        messages=[
            USER,
            _assistant_call({"ratio": float("nan")}),
            {"role": "tool", "content": "noon", "tool_call_id": "call_1"},
        ],
        says="JSON",
    ),
    Bad("max_tokens-0", kwargs={"max_tokens": 0}, says="max_tokens must be >= 1"),
    Bad("max_tokens-negative", kwargs={"max_tokens": -5}, says="max_tokens must be >= 1"),
    Bad("temperature-too-high", kwargs={"temperature": 2.5}, says="between 0 and 2"),
    Bad("temperature-negative", kwargs={"temperature": -0.1}, says="between 0 and 2"),
    Bad("model-with-spaces", model="gpt 4.1", says="whitespace"),
    Bad(
        # refused only because the relay's own /models published the limit (see the test)
        "beyond-the-published-input-limit",
        messages=[{"role": "user", "content": "lorem ipsum " * 2_000}],  # 24K chars
        error=ContextLengthExceededError,
        says="the 1,000 input tokens the relay's /models lists for gpt-4.1",
    ),
]
PUBLISHED_LIMIT = {"gpt-4.1": {"max_input_tokens": 1_000}}

OBJECT = {"type": "object", "properties": {"tz": {"type": "string"}}}


def _tool(**function: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"description": "the time", **function}}


# Tool definitions as given to chat(tools=...) / invoke(tools=...): checked by the core.
CASES += [
    Bad(
        "tool-without-name",
        kwargs={"tools": [_tool(parameters=OBJECT)]},
        says="tools[0] has no function name",
    ),
    Bad(
        "tool-name-with-a-space",
        kwargs={"tools": [_tool(name="clock", parameters=OBJECT), _tool(name="world clock")]},
        says="tools[1] has function name 'world clock'; names must be 1-64 letters",
    ),
    Bad(
        "tool-name-of-65-characters",
        kwargs={"tools": [_tool(name="c" * 65)]},
        says="names must be 1-64 letters",
    ),
    Bad(
        "tool-parameters-not-an-object-schema",
        kwargs={"tools": [_tool(name="clock", parameters={"type": "string"})]},
        says="tools[0] (clock) has parameters of JSON-schema type 'string'",
    ),
    Bad(
        "tool-parameters-not-a-dict",
        kwargs={"tools": [_tool(name="clock", parameters='{"type": "object"}')]},
        says="tools[0] (clock) has parameters of type str",
    ),
    Bad(
        "tool-of-another-type",
        kwargs={"tools": [{"type": "retrieval", "function": {"name": "clock"}}]},
        says="tools[0] has type 'retrieval'; chat completions only takes function tools",
    ),
    Bad(
        "tool-flat-without-function",
        kwargs={"tools": [{"type": "function", "name": "clock", "parameters": OBJECT}]},
        says="tools[0] has no 'function' dict",
    ),
    Bad("tools-not-a-list", kwargs={"tools": _tool(name="clock")}, says="tools must be a list"),
]


# -- one call, described as wire-style dicts, made through each framework ---------------


def _core_messages(spec: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for m in spec:
        call = m.get("tool_call")
        if call is None:
            out.append(m)
            continue
        function = {"name": call["name"], "arguments": call["args"]}  # not yet JSON text
        out.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": call["id"], "type": "function", "function": function}],
            }
        )
    return out


def _langchain_messages(spec: list[dict[str, Any]]) -> list[Any]:
    from langchain_core.messages import (
        AIMessage,
        ChatMessage,
        HumanMessage,
        SystemMessage,
        ToolMessage,
    )

    out: list[Any] = []
    for m in spec:
        role, content = m["role"], m.get("content") or ""
        if role == "user":
            out.append(HumanMessage(content))
        elif role == "system":
            out.append(SystemMessage(content))
        elif role == "assistant":
            call = m.get("tool_call")
            calls = [{"id": call["id"], "name": call["name"], "args": call["args"]}] if call else []
            out.append(AIMessage(content=content, tool_calls=calls))
        elif role == "tool":  # LangChain requires the field: the closest is an empty id
            out.append(ToolMessage(content, tool_call_id=m.get("tool_call_id", "")))
        else:
            out.append(ChatMessage(role=role, content=content))
    return out


def _llama_messages(spec: list[dict[str, Any]]) -> list[Any]:
    from llama_index.core.base.llms.types import ChatMessage, ToolCallBlock

    out = []
    for m in spec:
        call = m.get("tool_call")
        if call is not None:
            block = ToolCallBlock(
                tool_call_id=call["id"], tool_name=call["name"], tool_kwargs=call["args"]
            )
            out.append(ChatMessage(role="assistant", blocks=[block]))
            continue
        extra = {"tool_call_id": m["tool_call_id"]} if "tool_call_id" in m else {}
        out.append(ChatMessage(role=m["role"], content=m["content"], additional_kwargs=extra))
    return out


def run(entry: str, base_url: str, bad: Bad) -> None:
    """Make ``bad``'s call through the entry point named ``entry``."""
    framework, method = entry.split(".")
    kw: dict[str, Any] = {"api_key": TEST_API_KEY, "base_url": base_url, "max_retries": 0}
    if framework == "core":
        _run_core(method, kw, bad)
    elif framework == "ChatHolySheep":
        _run_langchain(method, kw, bad)
    else:
        _run_llama_index(method, kw, bad)


def _run_core(method: str, kw: dict[str, Any], bad: Bad) -> None:
    messages = _core_messages(bad.messages)
    call = {"model": bad.model, "messages": messages, **bad.kwargs}
    if not method.startswith("a"):
        with RelayClient(**kw) as client:
            if method == "chat":
                client.chat(**call)
            else:
                with client.stream_chat(**call) as stream:
                    list(stream)
        return

    async def core_async() -> None:
        async with AsyncRelayClient(**kw) as client:
            if method == "achat":
                await client.chat(**call)
            else:
                async with await client.stream_chat(**call) as stream:
                    [c async for c in stream]

    asyncio.run(core_async())


def _run_langchain(method: str, kw: dict[str, Any], bad: Bad) -> None:
    from langchain_holysheep import ChatHolySheep

    llm = ChatHolySheep(model=bad.model, **kw)
    lc_messages = _langchain_messages(bad.messages)
    if method == "invoke":
        llm.invoke(lc_messages, **bad.kwargs)
    elif method == "stream":
        list(llm.stream(lc_messages, **bad.kwargs))
    elif method == "ainvoke":
        asyncio.run(llm.ainvoke(lc_messages, **bad.kwargs))
    else:

        async def lc_astream() -> None:
            [c async for c in llm.astream(lc_messages, **bad.kwargs)]

        asyncio.run(lc_astream())


def _run_llama_index(method: str, kw: dict[str, Any], bad: Bad) -> None:
    from llama_index_holysheep import HolySheep

    li = HolySheep(model=bad.model, **kw)
    li_messages = _llama_messages(bad.messages)
    if method == "chat":
        li.chat(li_messages, **bad.kwargs)
    elif method == "stream_chat":
        list(li.stream_chat(li_messages, **bad.kwargs))
    elif method == "achat":
        asyncio.run(li.achat(li_messages, **bad.kwargs))
    else:

        async def li_astream() -> None:
            [r async for r in await li.astream_chat(li_messages, **bad.kwargs)]

        asyncio.run(li_astream())


ENTRIES = [e.name for e in ENTRY_POINTS]


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("bad", CASES, ids=lambda b: b.id)
def test_bad_input_fails_before_any_request(entry: str, bad: Bad, emulator: Emulator) -> None:
    error: type[Exception] = bad.error
    says = bad.says
    if bad.id == "unknown-role" and entry.startswith("HolySheep"):
        # LlamaIndex's own ChatMessage admits only its MessageRole values (pydantic)
        error, says = ValueError, "role"
    if bad.id == "beyond-the-published-input-limit":
        emulator.model_limits = PUBLISHED_LIMIT
        with RelayClient(api_key=TEST_API_KEY, base_url=emulator.base_url) as lister:
            lister.list_models()  # what the relay publishes is shared by every client
        emulator.reset()
    with pytest.raises(error) as caught:
        run(entry, emulator.base_url, bad)
    assert says in str(caught.value)
    if isinstance(caught.value, RelayError):
        assert caught.value.status_code is None  # ours, not the relay's
    assert emulator.requests == []


# -- configuration: every constructor ------------------------------------------------------


def _construct(kind: str, base_url: str) -> None:
    kw: dict[str, Any] = {"api_key": TEST_API_KEY, "base_url": base_url}
    if kind == "RelayClient":
        RelayClient(**kw).close()
    elif kind == "AsyncRelayClient":

        async def build() -> None:
            await AsyncRelayClient(**kw).aclose()

        asyncio.run(build())
    elif kind == "ChatHolySheep":
        from langchain_holysheep import ChatHolySheep

        ChatHolySheep(model="gpt-4.1", **kw)
    else:
        from llama_index_holysheep import HolySheep

        HolySheep(model="gpt-4.1", **kw)


CONSTRUCTORS = ["RelayClient", "AsyncRelayClient", "ChatHolySheep", "HolySheep"]


@pytest.mark.parametrize("kind", CONSTRUCTORS)
@pytest.mark.parametrize(
    "url", ["ftp://relay.example.com/v1", "relay.example.com/v1", "file:///etc/passwd", " "]
)
def test_a_non_http_base_url_is_a_configuration_error(kind: str, url: str) -> None:
    with pytest.raises(ConfigurationError, match="not an http"):
        _construct(kind, url)


@pytest.mark.parametrize("kind", CONSTRUCTORS)
def test_plain_http_to_a_remote_host_warns_that_the_key_travels_in_clear(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="holysheep_relay"):
        for url in ("https://relay.example.com/v1", "http://127.0.0.1:8/v1", "http://localhost/"):
            _construct(kind, url)
        assert "unencrypted" not in caplog.text
        _construct(kind, "http://relay.example.com/v1")
    warnings = [r for r in caplog.records if "unencrypted" in r.getMessage()]
    assert warnings
    assert warnings[0].levelno == logging.WARNING
    assert "relay.example.com" in warnings[0].getMessage()
    assert TEST_API_KEY not in caplog.text


@pytest.mark.parametrize("field_value", [{"max_tokens": 0}, {"temperature": 3.0}])
def test_llama_index_rejects_bad_limits_at_construction(field_value: dict[str, Any]) -> None:
    from llama_index_holysheep import HolySheep

    (name,) = field_value
    with pytest.raises(ValueError, match=name):
        HolySheep(model="gpt-4.1", api_key=TEST_API_KEY, **field_value)
