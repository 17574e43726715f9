"""Chat requests the real relay rejects get OpenAI's 400 error body from the emulator too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import openai
import pytest

from holysheep_relay.testing import FAKE_API_KEY, Emulator

REFERENCE = Path("/work/shared/reference/openai")
USER: Any = {"role": "user", "content": "Hi"}


def tool(name: Any = "get_weather", **function: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, **function}}


def body(**overrides: Any) -> dict[str, Any]:
    return {"model": "gpt-4.1", "messages": [USER], **overrides}


# (id, request body, param, code, a piece of the message)
CASES: list[tuple[str, dict[str, Any], str, str, str]] = [
    ("no-messages", {"model": "gpt-4.1"}, "messages", "missing_required_parameter", "Missing"),
    ("messages-not-array", body(messages="Hi"), "messages", "invalid_type", "got a string"),
    ("empty-messages", body(messages=[]), "messages", "empty_array", "empty array"),
    ("message-not-object", body(messages=["Hi"]), "messages[0]", "invalid_type", "an object"),
    (
        "message-without-role",
        body(messages=[USER, {"content": "hi"}]),
        "messages[1].role",
        "missing_required_parameter",
        "'messages[1].role'",
    ),
    (
        "unknown-role",
        body(messages=[{"role": "wizard", "content": "hi"}]),
        "messages[0].role",
        "invalid_value",
        "'wizard'",
    ),
    (
        "user-without-content",
        body(messages=[{"role": "user"}]),
        "messages[0].content",
        "missing_required_parameter",
        "'messages[0].content'",
    ),
    (
        "assistant-null-content-no-tool-calls",
        body(messages=[USER, {"role": "assistant", "content": None}, USER]),
        "messages[1].content",
        "missing_required_parameter",
        "content",
    ),
    (
        "content-a-number",
        body(messages=[{"role": "user", "content": 5}]),
        "messages[0].content",
        "invalid_type",
        "got an integer",
    ),
    (
        "tool-message-without-id",
        body(messages=[USER, {"role": "tool", "content": "12"}]),
        "messages[1].tool_call_id",
        "missing_required_parameter",
        "tool_call_id",
    ),
    ("tools-not-array", body(tools=tool()), "tools", "invalid_type", "expected an array"),
    ("tool-not-object", body(tools=["f"]), "tools[0]", "invalid_type", "an object"),
    (
        "tool-without-type",
        body(tools=[{"function": {"name": "f"}}]),
        "tools[0].type",
        "missing_required_parameter",
        "type",
    ),
    (
        "tool-wrong-type",
        body(tools=[{"type": "retrieval", "function": {"name": "f"}}]),
        "tools[0].type",
        "invalid_value",
        "'retrieval'",
    ),
    (
        "tool-without-function",
        body(tools=[{"type": "function"}]),
        "tools[0].function",
        "missing_required_parameter",
        "function",
    ),
    (
        "tool-without-name",
        body(tools=[tool(), {"type": "function", "function": {"description": "x"}}]),
        "tools[1].function.name",
        "missing_required_parameter",
        "'tools[1].function.name'",
    ),
    (
        "tool-name-with-space",
        body(tools=[tool("get weather")]),
        "tools[0].function.name",
        "invalid_value",
        "does not match pattern",
    ),
    (
        "tool-name-with-dot",
        body(tools=[tool("weather.get")]),
        "tools[0].function.name",
        "invalid_value",
        "does not match pattern",
    ),
    (
        "tool-name-empty",
        body(tools=[tool("")]),
        "tools[0].function.name",
        "invalid_value",
        "does not match pattern",
    ),
    (
        "tool-name-65-chars",
        body(tools=[tool("x" * 65)]),
        "tools[0].function.name",
        "string_above_max_length",
        "length 65",
    ),
    (
        "tool-name-a-number",
        body(tools=[tool(7)]),
        "tools[0].function.name",
        "invalid_type",
        "got an integer",
    ),
    (
        "parameters-a-string",
        body(tools=[tool(parameters="{'type': 'object'}")]),
        "tools[0].function.parameters",
        "invalid_type",
        "expected an object",
    ),
    (
        "parameters-not-object-schema",
        body(tools=[tool(parameters={"type": "string"})]),
        "tools[0].function.parameters",
        "invalid_function_parameters",
        "'type: \"object\"', got 'type: \"string\"'",
    ),
]


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {FAKE_API_KEY}"}
    with httpx.Client(base_url=emulator.base_url, headers=headers, timeout=5) as client:
        yield client


def error_schema() -> dict[str, Any]:
    return json.loads((REFERENCE / "schemas" / "ErrorResponse.schema.json").read_text())


@pytest.mark.parametrize(
    ("request_body", "param", "code", "says"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rejected_like_openai(
    http: httpx.Client,
    emulator: Emulator,
    request_body: dict[str, Any],
    param: str,
    code: str,
    says: str,
) -> None:
    emulator.script(text="not for a rejected request")
    for stream in (False, True):
        reply = http.post("/chat/completions", json={**request_body, "stream": stream})
        assert reply.status_code == 400
        assert reply.headers["content-type"] == "application/json"
        payload = reply.json()
        jsonschema.validate(payload, error_schema())
        error = payload["error"]
        assert set(error) == {"message", "type", "param", "code"}  # as OpenAI sends it
        assert (error["type"], error["param"], error["code"]) == (
            "invalid_request_error",
            param,
            code,
        )
        assert says in error["message"]
    assert emulator.scripts_pending == 1


def test_the_shape_is_the_one_openai_sends() -> None:
    recorded = json.loads(
        (REFERENCE / "exchanges" / "oai-error-400-unsupported-parameter.json").read_text()
    )
    real = json.loads(recorded["exchanges"][0]["response"]["body"]["raw"])["error"]
    assert set(real) == {"message", "type", "param", "code"}
    assert real["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "request_body",
    [
        body(tools=[tool("get_weather-2"), tool("x" * 64, parameters={})]),
        body(tools=[tool("f", parameters={"properties": {"a": {"type": "string"}}})]),
        body(
            messages=[
                USER,
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "content": "12", "tool_call_id": "c1"},
            ]
        ),
        body(messages=[{"role": "developer", "content": "Be brief."}, USER]),
        body(messages=[{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]),
    ],
    ids=["names-at-the-limits", "schema-without-type", "tool-turn", "developer", "content-parts"],
)
def test_valid_requests_are_answered(http: httpx.Client, request_body: dict[str, Any]) -> None:
    assert http.post("/chat/completions", json=request_body).status_code == 200


def test_the_openai_sdk_reads_the_error(emulator: Emulator) -> None:
    """The SDK (which checks nothing before sending) raises its BadRequestError with
    OpenAI's message, param and code, as it would against the real relay."""
    sdk = openai.OpenAI(base_url=emulator.base_url, api_key=FAKE_API_KEY, max_retries=0)
    with sdk, pytest.raises(openai.BadRequestError) as info:
        sdk.chat.completions.create(
            model="gpt-4.1", messages=[USER], tools=[tool(parameters={"type": "array"})]
        )
    assert (info.value.param, info.value.code) == (
        "tools[0].function.parameters",
        "invalid_function_parameters",
    )
    assert isinstance(info.value.body, dict)
    assert info.value.body["message"].startswith("Invalid schema for function 'get_weather'")
    assert emulator.attempts() == 1
