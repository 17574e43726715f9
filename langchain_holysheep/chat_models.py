"""``ChatHolySheep``: a LangChain chat model over the HolySheep relay core."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.language_models.model_profile import ModelProfile
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

from holysheep_relay import ChatCompletion, StreamResult, get_model_spec
from holysheep_relay.provider import check_tools

from ._convert import message_to_dict, messages_to_dicts, tool_choice_param
from ._responses import StreamConverter, chat_result
from ._settings import RelaySettings, require_model
from ._structured import Method, response_format, structured_runnable
from .errors import langchain_errors

__all__ = ["ChatHolySheep"]

_CALL_ONLY = ("stream", "ls_structured_output_format", "structured_output_format")


class _Call(NamedTuple):
    """Everything one request needs, worked out before any I/O."""

    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    extra_headers: Mapping[str, str] | None
    include_usage: bool

    def chat_kwargs(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": self.messages,
            "extra_headers": self.extra_headers,
            **self.params,
        }

    def stream_kwargs(self) -> dict[str, Any]:
        return {**self.chat_kwargs(), "include_usage": self.include_usage}


class ChatHolySheep(RelaySettings, BaseChatModel):
    """Chat models (Claude, GPT, Gemini, DeepSeek) through the HolySheep relay.

    A drop-in for ``ChatOpenAI`` that also gives usage on streams, USD cost and the request
    id in ``response_metadata``, ``reasoning_content``, robust streamed tool calls and typed
    errors (``langchain_holysheep.RateLimitError``...).

    >>> from langchain_holysheep import ChatHolySheep
    >>> llm = ChatHolySheep(model="gpt-4.1", api_key="hs_example_key_0123456789")
    >>> llm.model, llm.profile["max_input_tokens"]
    ('gpt-4.1', 1047576)
    >>> reply = llm.invoke("Hello")  # doctest: +SKIP
    >>> reply.usage_metadata["total_tokens"], reply.response_metadata["cost_usd"]  # doctest: +SKIP
    """

    model: str = Field(alias="model_name")
    """Model id, sent exactly as written (``gpt-4.1``, ``claude-sonnet-4.5``, ``deepseek-chat``:
    whatever the relay's ``/models`` lists). For the catalog's short names, expand them
    explicitly: ``model=holysheep_relay.resolve_model("sonnet-4")``."""
    temperature: float | None = None
    max_tokens: int | None = None
    """Output token limit, sent as ``max_tokens`` (relays reject ``max_completion_tokens``)."""
    top_p: float | None = None
    stop: list[str] | str | None = None
    seed: int | None = None
    n: int | None = None
    logprobs: bool | None = None
    streaming: bool = False
    """Stream even on ``invoke`` (so callbacks see tokens as they arrive)."""
    stream_usage: bool = True
    """Ask for usage on streams (``stream_options.include_usage``)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra request-body parameters (``reasoning_effort``, ``top_logprobs``...)."""
    extra_body: dict[str, Any] | None = None
    """Merged into the request body last (relay-specific fields)."""
    send_reasoning_content: bool | None = None
    """Send ``reasoning_content`` back on assistant tool-call messages. None: only for
    DeepSeek reasoning models, which require it inside a tool loop."""

    def __init__(self, **kwargs: Any) -> None:
        require_model("ChatHolySheep", kwargs, "gpt-4.1")
        super().__init__(**kwargs)
        self._init_relay()

    # -- LangChain plumbing --------------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return "holysheep-chat"

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["langchain_holysheep", "chat_models"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "HOLYSHEEP_API_KEY"}

    @property
    def _default_params(self) -> dict[str, Any]:
        params = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
            "stop": self.stop or None,
            "seed": self.seed,
            "n": self.n,
            "logprobs": self.logprobs,
        }
        return {k: v for k, v in params.items() if v is not None} | self.model_kwargs

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model, **self._default_params}

    def _get_invocation_params(
        self, stop: list[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        return {
            "model": self.model,
            **super()._get_invocation_params(stop=stop),
            **self._default_params,
            **kwargs,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="holysheep",
            ls_model_name=kwargs.get("model") or self.model,
            ls_model_type="chat",
            ls_temperature=kwargs.get("temperature", self.temperature),
        )
        if max_tokens := kwargs.get("max_tokens", self.max_tokens):
            params["ls_max_tokens"] = max_tokens
        ls_stop = stop or kwargs.get("stop") or self.stop
        if ls_stop:
            params["ls_stop"] = [ls_stop] if isinstance(ls_stop, str) else list(ls_stop)
        return params

    def _resolve_model_profile(self) -> ModelProfile | None:
        """Limits the relay published (after any ``list_models()`` on it), else the catalog's."""
        spec = get_model_spec(self.model)
        live = self._published_model_info()
        return ModelProfile(
            max_input_tokens=(live and live.input_limit) or spec.context_window,
            max_output_tokens=(live and live.output_limit) or spec.max_output_tokens,
            text_inputs=True,
            text_outputs=True,
            image_inputs=spec.supports_vision,
            image_url_inputs=spec.supports_vision,
            tool_calling=spec.supports_tools,
            tool_choice=spec.supports_tools,
            tool_call_streaming=spec.supports_tools,
            structured_output=spec.supports_json_schema,
            reasoning_output=spec.supports_reasoning,
        )

    # -- one request ---------------------------------------------------------------------

    def _send_reasoning(self, model: str) -> bool:
        if self.send_reasoning_content is not None:
            return self.send_reasoning_content
        spec = get_model_spec(model)
        return spec.supports_reasoning and (spec.family == "deepseek" or "reasoner" in model)

    def _prepare(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> _Call:
        """The request for ``messages`` and per-call ``kwargs`` (pure: no I/O)."""
        kw = {k: v for k, v in kwargs.items() if k not in _CALL_ONLY}
        model = kw.pop("model", None) or self.model
        stream_usage = kw.pop("stream_usage", None)
        extra_headers = kw.pop("extra_headers", None)
        extra_body = kw.pop("extra_body", None)
        if self.extra_body or extra_body:
            kw["extra_body"] = {**(self.extra_body or {}), **(extra_body or {})}
        fmt = kw.get("response_format")
        if isinstance(fmt, type):  # a pydantic class or TypedDict, as ChatOpenAI accepts
            kw["response_format"] = response_format(fmt)
        params = {**self._default_params, **kw}
        options = params.pop("stream_options", None)  # the core owns stream_options
        if stream_usage is None and isinstance(options, Mapping):
            stream_usage = options.get("include_usage")
        if stop is not None:
            params["stop"] = stop or None
        return _Call(
            model,
            messages_to_dicts(messages, send_reasoning=self._send_reasoning(model)),
            params,
            extra_headers,
            self.stream_usage if stream_usage is None else bool(stream_usage),
        )

    def _finish(self, completion: ChatCompletion, model: str) -> ChatResult:
        self._report_usage(completion, model, streamed=False)
        return chat_result(completion)

    def _finish_stream(
        self, converter: StreamConverter, result: StreamResult, model: str
    ) -> ChatGenerationChunk:
        self._report_usage(result, model, streamed=True)
        return converter.finish(result)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = self._prepare(messages, stop, kwargs)
        with langchain_errors():
            completion = self._sync_client().chat(**call.chat_kwargs())
        return self._finish(completion, call.model)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = self._prepare(messages, stop, kwargs)
        with langchain_errors():
            completion = await (await self._async_client()).chat(**call.chat_kwargs())
        return self._finish(completion, call.model)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        call = self._prepare(messages, stop, kwargs)
        converter = StreamConverter()
        with langchain_errors(), self._sync_client().stream_chat(**call.stream_kwargs()) as stream:
            for chunk in stream:
                if (generation := converter.convert(chunk)) is not None:
                    yield generation
        yield self._finish_stream(converter, stream.result, call.model)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        call = self._prepare(messages, stop, kwargs)
        converter = StreamConverter()
        with langchain_errors():
            client = await self._async_client()
            async with await client.stream_chat(**call.stream_kwargs()) as stream:
                async for chunk in stream:
                    if (generation := converter.convert(chunk)) is not None:
                        yield generation
        yield self._finish_stream(converter, stream.result, call.model)

    # -- tools, structured output, token counting -----------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (anything ``convert_to_openai_tool`` accepts).

        ``tool_choice``: a tool name, ``"auto"``, ``"none"``, ``"required"``, ``"any"`` /
        ``True`` (= required) or an OpenAI tool-choice dict.
        """
        formatted = [convert_to_openai_tool(t, strict=strict) for t in tools]
        check_tools(formatted)  # a nameless or misnamed tool fails here, not at invoke
        if tool_choice is not None and tool_choice is not False:
            names = [t["function"]["name"] for t in formatted]
            kwargs["tool_choice"] = tool_choice_param(tool_choice, names)
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Method | None = None,
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """Return outputs shaped like ``schema`` (pydantic class, TypedDict or JSON schema).

        ``method``: ``"json_schema"``, ``"function_calling"`` or ``"json_mode"``; by default
        ``json_schema`` where the model supports it and function calling otherwise.
        """
        return structured_runnable(
            self,
            self.model,
            schema,
            method=method,
            include_raw=include_raw,
            strict=strict,
            kwargs=kwargs,
        )

    def get_num_tokens(self, text: str) -> int:
        """Approximate token count (about 4 characters a token); never downloads anything."""
        if self.custom_get_token_ids is not None:
            return len(self.custom_get_token_ids(text))
        return (len(text) + 3) // 4

    def get_num_tokens_from_messages(
        self,
        messages: list[BaseMessage],
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool] | None = None,
    ) -> int:
        """Approximate prompt tokens for ``messages`` (and ``tools``); never raises."""
        total = 3
        for message in messages:
            try:
                total += 4 + self.get_num_tokens(json.dumps(message_to_dict(message), default=str))
            except Exception:
                total += 4 + self.get_num_tokens(str(message.content))
        for tool in tools or ():
            try:
                total += self.get_num_tokens(json.dumps(convert_to_openai_tool(tool), default=str))
            except Exception:
                total += 8
        return total
