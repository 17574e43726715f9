"""``with_structured_output`` for ChatHolySheep: function calling, JSON mode, JSON schema.

The default method is ``json_schema`` where the model catalog says the model supports it
(GPT, Gemini) and ``function_calling`` otherwise (Claude, DeepSeek: DeepSeek rejects
``response_format.json_schema``). Pydantic classes (v2 and v1), TypedDicts and JSON-schema
dicts are accepted; parsers stream (partial objects are yielded as they become valid).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import (
    convert_to_openai_function,
    convert_to_openai_tool,
)
from langchain_core.utils.pydantic import is_basemodel_subclass

from holysheep_relay import InvalidInputError, get_model_spec

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

__all__ = ["Method", "default_method", "response_format", "structured_runnable"]

Method = Literal["function_calling", "json_mode", "json_schema"]
_METHODS = ("function_calling", "json_mode", "json_schema")


def default_method(model: str) -> Method:
    """``json_schema`` where the catalog says the model supports it, else function calling."""
    return "json_schema" if get_model_spec(model).supports_json_schema else "function_calling"


def _is_pydantic(schema: Any) -> bool:
    return isinstance(schema, type) and is_basemodel_subclass(schema)


def response_format(schema: Any, strict: bool | None = None) -> dict[str, Any]:
    """A ``response_format`` of type ``json_schema`` for any supported schema input."""
    if isinstance(schema, dict) and schema.get("type") == "json_schema":
        return schema
    if isinstance(schema, dict) and "name" in schema and "schema" in schema:
        return {"type": "json_schema", "json_schema": schema}
    function = convert_to_openai_function(schema, strict=strict)
    spec: dict[str, Any] = {"name": function["name"], "schema": function["parameters"]}
    if function.get("description"):
        spec["description"] = function["description"]
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}


def structured_runnable(
    llm: BaseChatModel,
    model: str,
    schema: Any,
    *,
    method: Method | None,
    include_raw: bool,
    strict: bool | None,
    kwargs: dict[str, Any],
) -> Runnable[Any, Any]:
    """The model bound for ``method`` piped into the matching output parser."""
    method = method or default_method(model)
    if method not in _METHODS:
        raise InvalidInputError(f"method must be one of {', '.join(_METHODS)}, got {method!r}")
    if method == "json_mode" and strict is not None:
        raise InvalidInputError("strict is not supported with method='json_mode'")
    if schema is None and method != "json_mode":
        raise InvalidInputError(f"schema is required with method={method!r}")
    pydantic = _is_pydantic(schema)
    trace = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
    parser: Runnable[Any, Any]
    if method == "function_calling":
        tool_name = convert_to_openai_tool(schema)["function"]["name"]
        bound = llm.bind_tools(
            [schema],
            tool_choice=tool_name,
            strict=strict,
            parallel_tool_calls=False,
            ls_structured_output_format=trace,
            **kwargs,
        )
        parser = (
            PydanticToolsParser(tools=[schema], first_tool_only=True)
            if pydantic
            else JsonOutputKeyToolsParser(key_name=tool_name, first_tool_only=True)
        )
    elif method == "json_mode":
        trace["kwargs"] = {"method": method}
        bound = llm.bind(
            response_format={"type": "json_object"}, ls_structured_output_format=trace, **kwargs
        )
        parser = PydanticOutputParser(pydantic_object=schema) if pydantic else JsonOutputParser()
    else:
        bound = llm.bind(
            response_format=response_format(schema, strict),
            ls_structured_output_format=trace,
            **kwargs,
        )
        parser = PydanticOutputParser(pydantic_object=schema) if pydantic else JsonOutputParser()
    if not include_raw:
        return bound | parser
    parsed: Callable[[Any], Any] = itemgetter("raw")
    with_parsed = RunnablePassthrough.assign(
        parsed=parsed | parser, parsing_error=lambda _: None
    ).with_fallbacks(
        [RunnablePassthrough.assign(parsed=lambda _: None)], exception_key="parsing_error"
    )
    return RunnableMap(raw=bound) | with_parsed
