"""Structured output: structured_predict (sync/async/stream) and as_structured_llm, through
function calling (default) and through response_format JSON schema (opt-in)."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.llms import ChatMessage
from llama_index.core.prompts import PromptTemplate
from pydantic import BaseModel, ValidationError

from holysheep_relay import ConfigurationError
from holysheep_relay.testing import Emulator
from llama_index_holysheep import HolySheep
from tests.llama_index.conftest import make_llm

PROMPT = PromptTemplate("Describe the city {city}, population {population}.")


class City(BaseModel):
    """A city."""

    name: str
    population: int


def _chat_bodies(emulator: Emulator) -> list[dict[str, Any]]:
    return [r.json for r in emulator.requests if r.path == "/chat/completions"]


def _check_function_call_request(emulator: Emulator, *, stream: bool) -> None:
    [body] = _chat_bodies(emulator)
    assert body["tools"][0]["function"]["name"] == "City"
    assert body["tool_choice"] == "required"  # the object is forced, never left to "auto"
    assert bool(body.get("stream")) is stream
    assert "response_format" not in body


def _check_json_schema_request(emulator: Emulator, *, stream: bool) -> None:
    [body] = _chat_bodies(emulator)
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "City"
    assert body["response_format"]["json_schema"]["schema"] == City.model_json_schema()
    assert "tools" not in body
    assert "tool_choice" not in body
    assert bool(body.get("stream")) is stream


CHECKS = {
    "function_calling": _check_function_call_request,
    "json_schema": _check_json_schema_request,
}
MODES = ["function_calling", "json_schema"]


def _llm(emulator: Emulator, mode: str) -> HolySheep:
    return make_llm(emulator, structured_output_mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_structured_predict(emulator: Emulator, mode: str) -> None:
    city = _llm(emulator, mode).structured_predict(City, PROMPT, city="Lyon", population=500000)
    assert city == City(name="Lyon", population=500000)
    CHECKS[mode](emulator, stream=False)


@pytest.mark.parametrize("mode", MODES)
async def test_astructured_predict(emulator: Emulator, mode: str) -> None:
    llm = _llm(emulator, mode)
    city = await llm.astructured_predict(City, PROMPT, city="Lyon", population=500000)
    assert city == City(name="Lyon", population=500000)
    CHECKS[mode](emulator, stream=False)


@pytest.mark.parametrize("mode", MODES)
def test_stream_structured_predict(emulator: Emulator, mode: str) -> None:
    llm = _llm(emulator, mode)
    partials = list(llm.stream_structured_predict(City, PROMPT, city="Lyon", population=500000))
    assert len(partials) > 1  # partial objects while the arguments stream in
    final = partials[-1]
    assert isinstance(final, City)
    assert final == City(name="Lyon", population=500000)
    CHECKS[mode](emulator, stream=True)


@pytest.mark.parametrize("mode", MODES)
async def test_astream_structured_predict(emulator: Emulator, mode: str) -> None:
    llm = _llm(emulator, mode)
    stream = await llm.astream_structured_predict(City, PROMPT, city="Lyon", population=500000)
    partials = [p async for p in stream]
    assert partials[-1] == City(name="Lyon", population=500000)
    CHECKS[mode](emulator, stream=True)


@pytest.mark.parametrize("mode", MODES)
async def test_as_structured_llm(emulator: Emulator, mode: str) -> None:
    structured = _llm(emulator, mode).as_structured_llm(City)
    message = [ChatMessage(role="user", content="Describe Lyon, population 500000.")]
    response = structured.chat(message)
    assert response.raw == City(name="Lyon", population=500000)
    assert City.model_validate_json(response.message.content or "") == response.raw
    aresponse = await structured.achat(message)
    assert aresponse.raw == response.raw
    last = list(structured.stream_chat(message))[-1]
    assert last.raw == response.raw


def test_json_schema_mode_is_refused_for_models_without_it(emulator: Emulator) -> None:
    with pytest.raises(ConfigurationError, match="json_schema"):
        make_llm(emulator, model="deepseek-v3.2", structured_output_mode="json_schema")
    assert emulator.requests == []


def test_invalid_json_from_the_model_raises(emulator: Emulator) -> None:
    llm = _llm(emulator, "json_schema")
    with pytest.raises(ValidationError):
        llm.structured_predict(
            City, PROMPT, city="Lyon", population=1, llm_kwargs={"max_tokens": 1}
        )
