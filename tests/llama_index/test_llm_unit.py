"""HolySheep without a relay: configuration, metadata, secrets, client sharing, conversions."""

from __future__ import annotations

import asyncio
import gc
import json
import pickle
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    VideoBlock,
)
from llama_index.core.tools import FunctionTool

import llama_index_holysheep
from holysheep_relay import (
    AsyncRelayClient,
    ConfigurationError,
    InvalidInputError,
    RateLimiter,
    StreamResult,
    ToolCall,
    UsageLedger,
)
from holysheep_relay.wire import chunk_from_dict
from llama_index_holysheep import HolySheep, HolySheepEmbedding
from llama_index_holysheep._convert import resolve_tool_choice, to_wire_message
from llama_index_holysheep._responses import StreamFolder, parse_arguments, tool_selections
from tests.llama_index.conftest import SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]


def _llm(**kw: Any) -> HolySheep:
    return HolySheep(api_key=SECRET_KEY, base_url="http://127.0.0.1:9/v1", **kw)


# -- configuration and secrets ---------------------------------------------------------------


def test_key_never_appears_in_any_serialisation() -> None:
    llm = _llm(model="claude-sonnet-4.5", max_tokens=100)
    dumped = [
        repr(llm),
        str(llm),
        llm.to_json(),
        llm.model_dump_json(),
        json.dumps(llm.to_dict()),
        str(llm.model_dump()),
        str(llm.to_payload()),
        repr(llm._provider().spec),
    ]
    for text in dumped:
        assert SECRET_KEY not in text
    assert "api_key" not in llm.to_dict()
    assert llm.api_key.get_secret_value() == SECRET_KEY


def test_round_trip_through_to_dict_takes_the_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOLYSHEEP_API_KEY", SECRET_KEY)
    original = _llm(model="gemini-2.5-flash", temperature=0.2, requests_per_minute=30)
    again = HolySheep.from_dict(original.to_dict())
    assert again.model == "gemini-2.5-flash"
    assert again.temperature == 0.2
    assert again.api_base == original.api_base
    assert again.api_key.get_secret_value() == SECRET_KEY
    limiter = again._provider().client().rate_limiter
    assert limiter is not None
    assert limiter.requests_per_minute == 30
    assert limiter is original._provider().client().rate_limiter  # one shared budget


def test_pickle_keeps_working(monkeypatch: pytest.MonkeyPatch) -> None:
    llm = _llm(model="gpt-4.1")
    again = pickle.loads(pickle.dumps(llm))
    assert again.model == "gpt-4.1"
    assert again.metadata == llm.metadata


def test_environment_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOLYSHEEP_API_KEY", SECRET_KEY)
    monkeypatch.setenv("HOLYSHEEP_BASE_URL", "https://relay.example.com/v1/chat/completions/")
    llm = HolySheep()
    assert llm.api_base == "https://relay.example.com/v1"
    assert llm.model == "gpt-4.1"
    assert (
        HolySheep(base_url="https://other.example.com").api_base == "https://other.example.com/v1"
    )
    assert HolySheep(api_base="https://third.example.com/v1/").api_base == (
        "https://third.example.com/v1"
    )


def test_missing_key_fails_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOLYSHEEP_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="HOLYSHEEP_API_KEY"):
        HolySheep()
    with pytest.raises(ConfigurationError):
        HolySheepEmbedding()
    with pytest.raises(ConfigurationError):
        _llm(model=" ")


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"timeout": -1}, "timeout"),
        ({"on_usage": 42}, "on_usage"),
        ({"pricing": {"m": {}}}, "pricing"),
    ],
)
@pytest.mark.parametrize("cls", [HolySheep, HolySheepEmbedding])
def test_bad_client_settings_fail_at_construction(
    cls: type, kw: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        cls(api_key=SECRET_KEY, base_url="http://127.0.0.1:9/v1", **kw)


# -- metadata ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "context_window", "num_output", "tools"),
    [
        ("claude-sonnet-4.5", 200_000, 64_000, True),
        ("sonnet-4", 200_000, 64_000, True),
        ("gpt-4.1", 1_047_576, 32768, True),
        ("gemini-2.5-flash", 1_048_576, 65536, True),
        ("deepseek-v3.2", 128_000, 8192, True),
        ("text-embedding-3-small", 8191, 0, False),
    ],
)
def test_metadata_comes_from_the_catalog(
    model: str, context_window: int, num_output: int, tools: bool
) -> None:
    meta = _llm(model=model).metadata
    assert meta.context_window == context_window
    assert meta.is_function_calling_model is tools
    assert meta.is_chat_model is True
    assert meta.model_name == model
    if num_output:
        assert meta.num_output == num_output


def test_metadata_overrides_and_updates() -> None:
    llm = _llm(model="gpt-4.1", context_window=50_000, is_function_calling_model=False)
    assert (llm.metadata.context_window, llm.metadata.is_function_calling_model) == (50_000, False)
    llm.max_tokens = 123
    assert llm.metadata.num_output == 123
    llm.model = "claude-sonnet-4.5"
    assert llm.metadata.model_name == "claude-sonnet-4.5"


# -- rate limits and shared clients ------------------------------------------------------------


def test_core_rate_limiter_goes_to_the_core_not_the_framework() -> None:
    limiter = RateLimiter(requests_per_minute=10)
    llm = _llm(rate_limiter=limiter)
    assert llm.rate_limiter is None  # LlamaIndex would call acquire() with its own signature
    assert llm._provider().spec.rate_limiter is limiter
    assert llm._provider().client().rate_limiter is limiter  # by identity
    with pytest.raises(ConfigurationError):
        _llm(rate_limiter=limiter, requests_per_minute=5)


def test_numeric_limits_share_one_limiter_per_key_and_limits() -> None:
    a, b = _llm(tokens_per_minute=1000), _llm(model="claude-sonnet-4.5", tokens_per_minute=1000)
    assert a._provider().spec.tokens_per_minute == 1000  # numbers, not a per-model object
    shared = a._provider().client().rate_limiter
    assert shared is not None
    assert shared.tokens_per_minute == 1000
    assert b._provider().client() is a._provider().client()
    other = _llm(tokens_per_minute=2000)._provider().client().rate_limiter
    assert other is not None
    assert other is not shared
    assert other.tokens_per_minute == 2000
    a.tokens_per_minute = 2000  # a changed field picks the matching limiter
    assert a._provider().client().rate_limiter is other


def test_one_sync_client_per_configuration() -> None:
    a, b = _llm(temperature=0.1), _llm(model="claude-sonnet-4.5")
    assert a._provider().client() is b._provider().client()
    c = _llm(max_retries=5)
    assert c._provider().client() is not a._provider().client()
    ledger_calls: list[Any] = []
    d = _llm(on_usage=ledger_calls.append, pricing={"gpt-4.1": {"input": 1.0, "output": 1.0}})
    assert d._provider().client() is a._provider().client()  # usage: per model
    a.max_retries = 5  # a config change picks the matching client
    assert a._provider().client() is c._provider().client()
    assert a._provider().client().config.max_retries == 5


def test_one_async_client_serves_every_event_loop_and_each_loop_closes_its_pool(
    emulator: Any,
) -> None:
    from tests.llama_index.conftest import make_llm, user

    ledger = UsageLedger()
    llm = make_llm(emulator, on_usage=ledger)
    pools: list[Any] = []

    async def go() -> AsyncRelayClient:
        assert (await llm.achat(user())).message.content
        client = await llm._provider().async_client()
        assert client is await llm._provider().async_client()
        assert client.usage_callbacks == []  # shared: the adapter reports per model
        assert client._pools is not None
        pools.extend(entry.http for entry in client._pools._pools.values())
        return client

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = asyncio.run(go())
        second = asyncio.run(go())  # a new loop: no "Event loop is closed"
        gc.collect()
    assert first is second
    assert len({id(p) for p in pools}) == 2
    assert all(p.is_closed for p in pools)
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert ledger.total.requests == 2


def test_namespace_imports_re_export_the_same_classes() -> None:
    from llama_index.embeddings.holysheep import HolySheepEmbedding as NamespacedEmbedding
    from llama_index.llms.holysheep import HolySheep as NamespacedLLM

    assert NamespacedLLM is HolySheep
    assert NamespacedEmbedding is HolySheepEmbedding
    for folder in ("llama_index", "llama_index/llms", "llama_index/embeddings"):
        assert not (ROOT / folder / "__init__.py").exists()  # PEP 420 namespaces
    assert set(llama_index_holysheep.__all__) >= {"HolySheep", "HolySheepEmbedding"}


def test_import_pulls_in_neither_openai_nor_tiktoken() -> None:
    code = (
        "import sys, llama_index_holysheep; "
        "print(sorted(m for m in ('openai', 'tiktoken', 'llama_index.llms.openai') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


# -- message and tool conversions -------------------------------------------------------------


def test_messages_to_wire() -> None:
    assert to_wire_message(ChatMessage(role="user", content="hi")) == {
        "role": "user",
        "content": "hi",
    }
    assistant = ChatMessage(
        role="assistant",
        blocks=[
            ThinkingBlock(content="hmm"),
            TextBlock(text=""),
            ToolCallBlock(tool_call_id="c1", tool_name="add", tool_kwargs={"a": 1}),
            ToolCallBlock(tool_call_id="c2", tool_name="mul", tool_kwargs='{"a": 2}'),
        ],
    )
    assert to_wire_message(assistant) == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}},
            {"id": "c2", "type": "function", "function": {"name": "mul", "arguments": '{"a": 2}'}},
        ],
    }
    legacy = ChatMessage(
        role="assistant",
        content="",
        additional_kwargs={
            "tool_calls": [{"id": "c3", "function": {"name": "f", "arguments": "{}"}}]
        },
    )
    assert to_wire_message(legacy)["tool_calls"] == [
        {"id": "c3", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    ]
    tool = ChatMessage(role="tool", content="42", additional_kwargs={"tool_call_id": "c1"})
    assert to_wire_message(tool) == {"role": "tool", "content": "42", "tool_call_id": "c1"}
    image = ChatMessage(
        role="user",
        blocks=[TextBlock(text="what is this"), ImageBlock(url="https://example.com/cat.png")],
    )
    assert to_wire_message(image)["content"] == [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]
    with pytest.raises(InvalidInputError):
        to_wire_message(ChatMessage(role="user", blocks=[VideoBlock(url="https://x/v.mp4")]))
    with pytest.raises(InvalidInputError):
        to_wire_message(ChatMessage(role="system", blocks=[ImageBlock(url="https://x/c.png")]))


@pytest.mark.parametrize(
    ("choice", "required", "expected"),
    [
        (None, False, "auto"),
        (None, True, "required"),
        ("none", True, "none"),
        ("multiply", False, {"type": "function", "function": {"name": "multiply"}}),
        ("my tool", False, {"type": "function", "function": {"name": "my_tool"}}),
        (
            {"type": "function", "function": {"name": "x"}},
            False,
            {"type": "function", "function": {"name": "x"}},
        ),
    ],
)
def test_tool_choice(choice: Any, required: bool, expected: Any) -> None:
    assert resolve_tool_choice(choice, required) == expected


def test_prepare_chat_with_tools() -> None:
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    tool = FunctionTool.from_defaults(add)
    history = [ChatMessage(role="system", content="be brief")]
    llm = _llm()
    prepared = llm._prepare_chat_with_tools(
        [tool], user_msg="2+2", chat_history=history, tool_required=True, strict=True
    )
    assert len(history) == 1  # the caller's history is not mutated
    assert [m.content for m in prepared["messages"]] == ["be brief", "2+2"]
    assert prepared["tool_choice"] == "required"
    assert prepared["parallel_tool_calls"] is False
    function = prepared["tools"][0]["function"]
    assert function["name"] == "add"
    assert function["strict"] is True
    assert function["parameters"]["additionalProperties"] is False
    loose = llm._prepare_chat_with_tools([tool], user_msg="x", allow_parallel_tool_calls=True)
    assert loose["tool_choice"] == "auto"
    assert loose["parallel_tool_calls"] is True
    assert "strict" not in loose["tools"][0]["function"]
    assert "tools" not in llm._prepare_chat_with_tools([], user_msg="x")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"a": 1, "b": [1, 2]}', {"a": 1, "b": [1, 2]}),
        ('{"a": 1, "b": [1, 2', {"a": 1, "b": [1, 2]}),
        ('{"a": "hel', {"a": None}),  # a value still streaming in: known, not yet set
        ('{"a', {}),
        ("", {}),
        ("[1, 2]", {}),
        ("not json", {}),
        ({"already": "dict"}, {"already": "dict"}),
    ],
)
def test_arguments_are_parsed_tolerantly(arguments: Any, expected: dict[str, Any]) -> None:
    assert parse_arguments(arguments) == expected


def _chunk(delta: dict[str, Any], **extra: Any) -> Any:
    return chunk_from_dict(
        {"id": "x", "model": "m", "choices": [{"index": 0, "delta": delta}], **extra}
    )


def test_stream_folder_with_a_relay_that_repeats_ids_and_names() -> None:
    folder = StreamFolder()
    head = {"index": 0, "id": "call_9", "type": "function"}
    pieces = ['{"a":', " 6, ", '"b": 7}']
    responses = [
        folder.on_chunk(
            _chunk({"tool_calls": [{**head, "function": {"name": "mul", "arguments": p}}]})
        )
        for p in pieces
    ]
    assert folder.on_chunk(_chunk({}, usage=None)) is None  # nothing new: nothing yielded
    selections = [tool_selections(r, False) for r in responses if r is not None]
    assert [s[0].tool_id for s in selections] == ["call_9"] * 3
    assert [s[0].tool_name for s in selections] == ["mul"] * 3
    assert [s[0].tool_kwargs for s in selections] == [{"a": None}, {"a": 6}, {"a": 6, "b": 7}]
    final = folder.finish(
        StreamResult(
            tool_calls=[
                ToolCall.model_validate(
                    {"id": "call_9", "function": {"name": "mul", "arguments": '{"a": 6, "b": 7}'}}
                )
            ]
        ),
        cost_usd=None,
    )
    assert tool_selections(final, True)[0].tool_kwargs == {"a": 6, "b": 7}


def test_no_tool_call_is_an_error_only_when_asked() -> None:
    response = ChatResponse(message=ChatMessage(role="assistant", content="no tools"))
    assert tool_selections(response, False) == []
    with pytest.raises(ValueError, match="tool call"):
        tool_selections(response, True)


def test_answers_survive_memory_serialisation_and_go_back_on_the_wire() -> None:
    from llama_index.core.memory import Memory

    from llama_index_holysheep._responses import build_message

    call = ToolCall.model_validate({"id": "c1", "function": {"name": "f", "arguments": '{"a":1}'}})
    message = build_message("", "let me think", [call], reasoning_tokens=3)
    memory = Memory.from_defaults()
    memory.put(message)
    [restored] = memory.get()
    again = ChatMessage.model_validate_json(message.model_dump_json())
    expected = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
        ],
    }
    assert to_wire_message(message) == to_wire_message(restored) == to_wire_message(again)
    assert to_wire_message(message) == expected  # reasoning is not sent back
