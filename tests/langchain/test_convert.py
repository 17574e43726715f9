"""Pure conversions: LangChain messages -> wire dicts, wire replies/chunks -> LangChain."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)

from holysheep_relay import ChatCompletion, InvalidInputError, StreamResult, ToolCall, Usage
from holysheep_relay.wire import chunk_from_dict
from langchain_holysheep._convert import message_to_dict, messages_to_dicts, tool_choice_param
from langchain_holysheep._responses import (
    StreamConverter,
    chat_result,
    parse_tool_calls,
    usage_metadata,
)
from tests.langchain.helpers import collect

CALL = {"name": "get_weather", "args": {"city": "東京"}, "id": "call_1", "type": "tool_call"}


# -- messages out -------------------------------------------------------------------------


def test_roles_and_plain_text_pass_through() -> None:
    msgs: list[BaseMessage] = [
        SystemMessage("be brief"),
        HumanMessage("hi", name="ann"),
        AIMessage("hello"),
        ChatMessage(role="developer", content="dev note"),
        SystemMessage("dev", additional_kwargs={"__openai_role__": "developer"}),
    ]
    assert messages_to_dicts(msgs) == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi", "name": "ann"},
        {"role": "assistant", "content": "hello"},
        {"role": "developer", "content": "dev note"},
        {"role": "developer", "content": "dev"},
    ]


def test_user_content_blocks_become_chat_completion_parts() -> None:
    msg = HumanMessage(
        [
            {"type": "text", "text": "look", "cache_control": {"type": "ephemeral"}},
            {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
            {"type": "image", "base64": "QUJD", "mime_type": "image/png"},
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/jpeg", "data": "Zg=="},
            },
            {"type": "image", "source": {"type": "url", "url": "https://x.test/b.png"}},
        ]
    )
    assert message_to_dict(msg)["content"] == [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,Zg=="}},
        {"type": "image_url", "image_url": {"url": "https://x.test/b.png"}},
    ]


def test_single_text_block_is_sent_as_a_string() -> None:
    assert message_to_dict(HumanMessage([{"type": "text", "text": "Hello"}])) == {
        "role": "user",
        "content": "Hello",
    }


def test_ai_tool_calls_keep_unicode_and_null_content() -> None:
    out = message_to_dict(AIMessage("", tool_calls=[CALL]))
    assert out == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "東京"}'},
            }
        ],
    }


def test_ai_invalid_tool_calls_are_sent_back_verbatim() -> None:
    msg = AIMessage(
        "",
        invalid_tool_calls=[
            {"name": "f", "args": "{bad", "id": "c9", "error": "x", "type": "invalid_tool_call"}
        ],
    )
    assert message_to_dict(msg)["tool_calls"] == [
        {"id": "c9", "type": "function", "function": {"name": "f", "arguments": "{bad"}}
    ]


def test_ai_list_content_keeps_text_and_drops_tool_use_and_thinking() -> None:
    msg = AIMessage(
        [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "some text"},
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}},
        ],
        tool_calls=[CALL],
    )
    out = message_to_dict(msg)
    assert out["content"] == "some text"
    assert [c["id"] for c in out["tool_calls"]] == ["call_1"]


@pytest.mark.parametrize("send", [True, False])
def test_reasoning_goes_back_only_on_tool_call_messages_when_asked(send: bool) -> None:
    with_calls = AIMessage(
        "", tool_calls=[CALL], additional_kwargs={"reasoning_content": "I should call it"}
    )
    plain = AIMessage("done", additional_kwargs={"reasoning_content": "easy"})
    first, second = messages_to_dicts([with_calls, plain], send_reasoning=send)
    assert first.get("reasoning_content") == ("I should call it" if send else None)
    assert "reasoning_content" not in second


def test_v1_content_blocks_give_text_and_reasoning() -> None:
    msg = AIMessage(
        content_blocks=[
            {"type": "reasoning", "reasoning": "think first"},
            {"type": "text", "text": "answer"},
            {"type": "tool_call", "name": "get_weather", "args": {"city": "Oslo"}, "id": "c1"},
        ]
    )
    out = message_to_dict(msg, send_reasoning=True)
    assert out["content"] == "answer"
    assert out["reasoning_content"] == "think first"
    assert out["tool_calls"][0]["function"]["arguments"] == '{"city": "Oslo"}'


def test_tool_messages_are_flattened_to_text() -> None:
    assert message_to_dict(ToolMessage("3", tool_call_id="c1", name="add")) == {
        "role": "tool",
        "tool_call_id": "c1",
        "content": "3",
    }
    listed = ToolMessage([{"type": "text", "text": "a"}, {"k": 1}], tool_call_id="c2")
    assert message_to_dict(listed)["content"] == 'a{"k": 1}'
    assert message_to_dict(FunctionMessage("7", name="f")) == {
        "role": "function",
        "name": "f",
        "content": "7",
    }


def test_unsupported_message_type_is_a_typed_error() -> None:
    with pytest.raises(InvalidInputError, match="RemoveMessage"):
        message_to_dict(RemoveMessage(id="m1"))


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("any", "required"),
        (True, "required"),
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
        (
            {"type": "function", "function": {"name": "x"}},
            {"type": "function", "function": {"name": "x"}},
        ),
    ],
)
def test_tool_choice_vocabulary(choice: Any, expected: Any) -> None:
    assert tool_choice_param(choice, ["get_weather", "add"]) == expected


@pytest.mark.parametrize("choice", ["nope", 3])
def test_bad_tool_choice_is_a_typed_error(choice: Any) -> None:
    with pytest.raises(InvalidInputError, match="tool_choice"):
        tool_choice_param(choice, ["get_weather"])


# -- replies in ---------------------------------------------------------------------------


def _call(arguments: str, name: str = "f", id_: str = "c1") -> ToolCall:
    return ToolCall.model_validate(
        {"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}
    )


def test_tool_call_arguments_parse_or_become_invalid_calls() -> None:
    calls, invalid = parse_tool_calls(
        [_call('{"a": 1}'), _call(""), _call("{not json", id_="c3"), _call("[1, 2]", id_="c4")]
    )
    assert [c["args"] for c in calls] == [{"a": 1}, {}]
    assert [(i["id"], i["args"]) for i in invalid] == [("c3", "{not json"), ("c4", "[1, 2]")]
    assert "not valid JSON" in (invalid[0]["error"] or "")
    assert "not an object" in (invalid[1]["error"] or "")


def test_usage_details_only_when_the_relay_sends_them() -> None:
    assert usage_metadata(None) is None
    plain = usage_metadata(Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5), {})
    assert plain == {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}
    raw = {
        "prompt_tokens": 10,
        "completion_tokens": 4,
        "total_tokens": 14,
        "prompt_tokens_details": {"cached_tokens": 6, "cache_write_tokens": 2},
        "completion_tokens_details": {"reasoning_tokens": 3},
    }
    detailed = usage_metadata(Usage.from_wire(raw), raw)
    assert detailed == {
        "input_tokens": 10,
        "output_tokens": 4,
        "total_tokens": 14,
        "input_token_details": {"cache_read": 6, "cache_creation": 2},
        "output_token_details": {"reasoning": 3},
    }
    anthropic = {"input_tokens": 8, "output_tokens": 1, "cache_read_input_tokens": 5}
    assert usage_metadata(Usage.from_wire(anthropic), anthropic) == {
        "input_tokens": 8,
        "output_tokens": 1,
        "total_tokens": 9,
        "input_token_details": {"cache_read": 5},
    }


def test_chat_result_metadata_and_choices() -> None:
    raw = {
        "id": "chatcmpl-9",
        "model": "gpt-4.1",
        "system_fingerprint": "fp_x",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "A", "reasoning_content": "why"},
                "finish_reason": "stop",
            },
            {
                "index": 1,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{"},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            },
        ],
        "usage": {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4},
    }
    completion = ChatCompletion.model_validate({**raw, "usage": Usage.from_wire(raw["usage"])})
    completion.raw, completion.request_id, completion.cost_usd = raw, "req_9", 0.25
    result = chat_result(completion)
    first, second = (g.message for g in result.generations)
    assert isinstance(first, AIMessage)
    assert isinstance(second, AIMessage)
    assert first.content == "A"
    assert first.additional_kwargs == {"reasoning_content": "why"}
    assert first.response_metadata["token_usage"] == raw["usage"]
    assert {k: first.response_metadata[k] for k in ("model_name", "id", "request_id")} == {
        "model_name": "gpt-4.1",
        "id": "chatcmpl-9",
        "request_id": "req_9",
    }
    assert first.response_metadata["cost_usd"] == 0.25
    assert first.response_metadata["model_provider"] == "holysheep"
    assert second.tool_calls == []
    assert second.invalid_tool_calls[0]["args"] == "{"
    assert result.llm_output is not None
    assert result.llm_output["token_usage"] == raw["usage"]


# -- stream chunks ------------------------------------------------------------------------


def _chunk(delta: dict[str, Any], *, usage: dict[str, Any] | None = None) -> Any:
    choices = [{"index": 0, "delta": delta, "finish_reason": None}] if delta else []
    return chunk_from_dict({"id": "chatcmpl-1", "model": "m", "choices": choices, "usage": usage})


def _tool(
    index: int | None, *, id_: str | None = None, name: str | None = None, args: str = ""
) -> dict[str, Any]:
    call: dict[str, Any] = {"function": {"arguments": args}}
    if index is not None:
        call["index"] = index
    if id_:
        call["id"] = id_
    if name:
        call["function"]["name"] = name
    return {"tool_calls": [call]}


def _stream(deltas: list[dict[str, Any]], usage: Usage | None = None) -> AIMessageChunk:
    conv = StreamConverter()
    gens = [g for g in (conv.convert(_chunk(d)) for d in deltas) if g is not None]
    final = conv.finish(StreamResult(id="chatcmpl-1", model="m", usage=usage, finish_reason="stop"))
    result = collect(g.message for g in [*gens, final])
    assert isinstance(result, AIMessageChunk)
    return result


def test_repeated_id_and_name_are_not_concatenated() -> None:
    deltas = [
        _tool(0, id_="c1", name="get_weather", args='{"ci'),
        _tool(0, id_="c1", name="get_weather", args='ty": "Oslo"}'),
    ]
    assert _stream(deltas).tool_calls == [
        {"name": "get_weather", "args": {"city": "Oslo"}, "id": "c1", "type": "tool_call"}
    ]


def test_shared_index_with_new_id_starts_a_new_call() -> None:
    deltas = [
        _tool(0, id_="c1", name="a", args="{}"),
        _tool(0, id_="c2", name="b", args='{"x": 1}'),
    ]
    calls = _stream(deltas).tool_calls
    assert [(c["id"], c["name"], c["args"]) for c in calls] == [
        ("c1", "a", {}),
        ("c2", "b", {"x": 1}),
    ]


def test_missing_index_continues_the_latest_call() -> None:
    deltas = [
        _tool(None, id_="c1", name="a", args='{"k":'),
        _tool(None, args=" 2}"),
        _tool(None, id_="c2", name="b", args="{}"),
    ]
    calls = _stream(deltas).tool_calls
    assert [(c["id"], c["args"]) for c in calls] == [("c1", {"k": 2}), ("c2", {})]


def test_bad_streamed_arguments_become_invalid_tool_calls() -> None:
    result = _stream([_tool(0, id_="c1", name="a", args="[1, 2]")])
    assert result.tool_calls == []
    assert result.invalid_tool_calls[0]["args"] == "[1, 2]"


def test_usage_and_metadata_only_on_the_final_chunk() -> None:
    conv = StreamConverter()
    raw_usage = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
    mid = [
        conv.convert(_chunk({"content": "Hi", "reasoning_content": "r"})),
        conv.convert(_chunk({}, usage={"prompt_tokens": 4, "completion_tokens": 1})),
        conv.convert(_chunk({}, usage=raw_usage)),
    ]
    assert mid[1] is None
    assert mid[2] is None
    assert mid[0] is not None
    assert mid[0].message.usage_metadata is None
    assert mid[0].message.additional_kwargs == {"reasoning_content": "r"}
    final = conv.finish(StreamResult(id="chatcmpl-1", model="m", usage=Usage.from_wire(raw_usage)))
    message = final.message
    assert isinstance(message, AIMessageChunk)
    assert message.chunk_position == "last"
    assert message.usage_metadata == {"input_tokens": 4, "output_tokens": 2, "total_tokens": 6}
    assert message.response_metadata["model_provider"] == "holysheep"
    json.dumps(message.response_metadata)  # plain data only
