"""with_structured_output: default method from the catalog, three methods, three schema kinds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.utils.function_calling import convert_to_json_schema
from pydantic import BaseModel, Field
from pydantic.v1 import BaseModel as BaseModelV1
from typing_extensions import TypedDict

from holysheep_relay.testing import Emulator
from langchain_holysheep import ChatHolySheep, InvalidInputError
from tests.langchain.helpers import call, chunks_of, last_body

PROMPT = "The answer is Paris"


class Answer(BaseModel):
    """An answer."""

    answer: str = Field(description="the answer")


class AnswerDict(TypedDict):
    """An answer."""

    answer: str


class AnswerV1(BaseModelV1):
    """An answer."""

    answer: str


SCHEMAS: dict[str, Any] = {
    "pydantic": Answer,
    "typeddict": AnswerDict,
    "json_schema": Answer.model_json_schema(),
}


def _check(result: Any, kind: str) -> None:
    if kind == "pydantic":
        assert isinstance(result, Answer)
        assert result.answer
    else:
        assert isinstance(result, dict)
        assert set(result) == {"answer"}
        assert result["answer"]


@pytest.mark.parametrize("kind", list(SCHEMAS))
@pytest.mark.parametrize("method", ["function_calling", "json_schema", "json_mode"])
def test_every_method_and_schema_kind(
    make_llm: Callable[..., ChatHolySheep], mode: str, method: str, kind: str
) -> None:
    structured = make_llm().with_structured_output(SCHEMAS[kind], method=method)
    _check(_final(mode, structured), kind)


def _final(mode: str, runnable: Any) -> Any:
    """The result of invoke/ainvoke, or the last object a stream yields."""
    if mode in ("invoke", "ainvoke"):
        return call(mode, runnable, PROMPT)
    chunks = chunks_of(mode, runnable, PROMPT)
    assert chunks, "no parsed output streamed"
    return chunks[-1]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4.1", "json_schema"),
        ("gemini-2.5-flash", "json_schema"),
        ("deepseek-v3.2", "function_calling"),
        ("claude-sonnet-4.5", "function_calling"),
        ("emulator-model", "function_calling"),
    ],
)
def test_default_method_follows_the_catalog(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep], model: str, expected: str
) -> None:
    result = make_llm(model=model).with_structured_output(Answer).invoke(PROMPT)
    assert isinstance(result, Answer)
    body = last_body(emulator)
    if expected == "json_schema":
        fmt = body["response_format"]
        assert fmt["type"] == "json_schema"
        assert fmt["json_schema"]["name"] == "Answer"
        assert fmt["json_schema"]["schema"]["required"] == ["answer"]
        assert "tools" not in body
    else:
        assert "response_format" not in body
        assert body["tool_choice"] == {"type": "function", "function": {"name": "Answer"}}
        assert body["parallel_tool_calls"] is False


def test_strict_reaches_the_wire(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep]
) -> None:
    llm = make_llm()
    llm.with_structured_output(Answer, method="json_schema", strict=True).invoke(PROMPT)
    assert last_body(emulator)["response_format"]["json_schema"]["strict"] is True
    llm.with_structured_output(Answer, method="function_calling", strict=True).invoke(PROMPT)
    assert last_body(emulator)["tools"][0]["function"]["strict"] is True
    llm.with_structured_output(Answer, method="json_mode").invoke(PROMPT)
    assert last_body(emulator)["response_format"] == {"type": "json_object"}


def test_pydantic_v1_schemas_work(make_llm: Callable[..., ChatHolySheep], mode: str) -> None:
    for method in ("json_schema", "function_calling"):
        structured = make_llm().with_structured_output(AnswerV1, method=method)
        result = _final(mode, structured)
        assert isinstance(result, AnswerV1)
        assert result.answer


def test_include_raw_returns_message_and_parsing_error(
    make_llm: Callable[..., ChatHolySheep], mode: str
) -> None:
    class Joke(BaseModel):
        setup: str
        punchline: str

    ok = call(mode, make_llm().with_structured_output(Answer, include_raw=True), PROMPT)
    assert isinstance(ok["parsed"], Answer)
    assert ok["parsing_error"] is None
    assert ok["raw"].usage_metadata is not None
    # JSON mode does not send the schema, so the emulator answers {"answer": ...}
    bad = make_llm().with_structured_output(Joke, method="json_mode", include_raw=True)
    if mode in ("invoke", "ainvoke"):
        result = call(mode, bad, PROMPT)
        assert result["parsed"] is None
        assert result["parsing_error"] is not None
        assert result["raw"].content.startswith('{"answer"')


class _Options(BaseCallbackHandler):
    def __init__(self) -> None:
        self.options: list[dict[str, Any]] = []

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        self.options.append(kwargs.get("options") or {})


@pytest.mark.parametrize("method", ["function_calling", "json_schema", "json_mode"])
def test_binds_ls_structured_output_format(
    make_llm: Callable[..., ChatHolySheep], method: str
) -> None:
    handler = _Options()
    structured = make_llm().with_structured_output(Answer, method=method)
    structured.invoke(PROMPT, config={"callbacks": [handler]})
    list(structured.stream(PROMPT, config={"callbacks": [handler]}))
    assert len(handler.options) == 2
    for options in handler.options:
        fmt = options["ls_structured_output_format"]
        assert fmt["schema"] == convert_to_json_schema(Answer)
        assert fmt["kwargs"]["method"] == method


@pytest.mark.parametrize(
    ("schema", "kwargs", "match"),
    [
        (Answer, {"method": "json_mode", "strict": True}, "strict"),
        (Answer, {"method": "xml"}, "method"),
        (None, {"method": "function_calling"}, "schema is required"),
    ],
)
def test_bad_arguments_are_typed_errors(
    make_llm: Callable[..., ChatHolySheep], schema: Any, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        make_llm().with_structured_output(schema, **kwargs)


def test_json_mode_without_schema_gives_dicts(make_llm: Callable[..., ChatHolySheep]) -> None:
    result = make_llm().with_structured_output(None, method="json_mode").invoke(PROMPT)
    assert result == {"answer": PROMPT}


def test_bound_response_format_class_is_converted(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep]
) -> None:
    reply = make_llm().bind(response_format=Answer).invoke(PROMPT)
    assert last_body(emulator)["response_format"]["json_schema"]["name"] == "Answer"
    assert Answer.model_validate_json(str(reply.content)).answer
