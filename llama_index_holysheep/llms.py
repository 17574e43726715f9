"""``HolySheep``: a LlamaIndex function-calling LLM backed by the HolySheep relay core."""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from llama_index.core.base.llms.generic_utils import (
    achat_to_completion_decorator,
    astream_chat_to_completion_decorator,
    chat_to_completion_decorator,
    stream_chat_to_completion_decorator,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.types import PydanticProgramMode
from pydantic import BaseModel, Field, PrivateAttr, SecretStr

from holysheep_relay import (
    AsyncChatStream,
    ChatCompletion,
    ChatStream,
    ConfigurationError,
    Limiter,
    Pricing,
    RetryPolicy,
    SpendBudget,
    Timeouts,
    get_model_spec,
)
from holysheep_relay.provider import (
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    PriceLike,
    Provider,
    UsageCallback,
    UsageReporter,
    normalize_base_url,
    resolve_api_key,
)

from ._connection import RelayConnection
from ._convert import resolve_tool_choice, to_wire_messages, to_wire_tools
from ._responses import StreamFolder, chat_response, tool_selections
from ._structured import json_schema_kwargs, parse_structured

if TYPE_CHECKING:
    from llama_index.core.program.function_program import FunctionCallingProgram
    from llama_index.core.prompts import PromptTemplate
    from llama_index.core.tools.types import BaseTool

__all__ = ["DEFAULT_MODEL", "HolySheep"]

DEFAULT_MODEL = "gpt-4.1"


def _iterate(stream: ChatStream, usage: UsageReporter, model: str) -> ChatResponseGen:
    folder = StreamFolder()
    with stream:
        for chunk in stream:
            response = folder.on_chunk(chunk)
            if response is not None:
                yield response
    event = usage.report(stream.result, model, streamed=True)  # once, after a clean end
    yield folder.finish(stream.result, cost_usd=event.cost_usd)


async def _aiterate(
    stream: AsyncChatStream, usage: UsageReporter, model: str
) -> ChatResponseAsyncGen:
    folder = StreamFolder()
    async with stream:
        async for chunk in stream:
            response = folder.on_chunk(chunk)
            if response is not None:
                yield response
    event = usage.report(stream.result, model, streamed=True)  # once, after a clean end
    yield folder.finish(stream.result, cost_usd=event.cost_usd)


class HolySheep(RelayConnection, FunctionCallingLLM):
    """The HolySheep relay (Claude, GPT, Gemini, DeepSeek) as a LlamaIndex LLM.

    Streams, tools, agents and structured output work out of the box; every response
    carries the relay's exact usage (``raw["usage"]``, ``additional_kwargs``), the cost in
    USD and the request id. Retries are done once, by the relay core.

    >>> from llama_index.core import Settings
    >>> from llama_index_holysheep import HolySheep
    >>> Settings.llm = HolySheep(model="claude-sonnet-4.5")  # doctest: +SKIP
    >>> print(Settings.llm.complete("Say hi in French").text)  # doctest: +SKIP
    Bonjour !
    """

    model: str = Field(
        default=DEFAULT_MODEL,
        description="Model id, sent exactly as written (whatever the relay's /models lists).",
    )
    api_key: SecretStr = Field(
        exclude=True, repr=False, description="Relay key (default: HOLYSHEEP_API_KEY)."
    )
    api_base: str = Field(
        default=DEFAULT_BASE_URL, description="Relay base URL (default: HOLYSHEEP_BASE_URL)."
    )
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, gt=0)
    timeout: float | Timeouts | None = Field(
        default=None, description="Seconds, or Timeouts(connect, read, write, pool, total)."
    )
    max_retries: int = Field(default=2, ge=0, description="Retries done by the relay core.")
    retry_policy: RetryPolicy | None = Field(
        default=None,
        exclude=True,
        description="The whole retry decision (holysheep_relay.RetryPolicy); replaces max_retries.",
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra JSON body parameters for every request."
    )
    default_headers: dict[str, str] | None = Field(default=None)
    context_window: int | None = Field(
        default=None,
        gt=0,
        description="Override the context window (default: the relay's /models figure once "
        "listed, else the catalog's).",
    )
    is_function_calling_model: bool | None = Field(
        default=None, description="Override the catalog's tool support."
    )
    strict: bool = Field(default=False, description="Strict tool / JSON schemas.")
    structured_output_mode: Literal["function_calling", "json_schema"] = Field(
        default="function_calling",
        description="How structured_predict asks for objects: tools, or response_format.",
    )
    include_usage: bool = Field(
        default=True, description="Send stream_options.include_usage on streams."
    )
    requests_per_minute: float | None = Field(default=None, gt=0)
    tokens_per_minute: float | None = Field(default=None, gt=0)

    _relay_limiter: Limiter | None = PrivateAttr(default=None)
    _budget: SpendBudget | None = PrivateAttr(default=None)
    _budget_pricing: Any = PrivateAttr(default=None)
    _usage: UsageReporter = PrivateAttr(default=UsageReporter())
    _provider_cache: Provider | None = PrivateAttr(default=None)
    _meta: tuple[tuple[Any, ...], LLMMetadata] | None = PrivateAttr(default=None)

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        api_key: str | SecretStr | None = None,
        api_base: str | None = None,
        *,
        base_url: str | None = None,
        rate_limiter: Any = None,
        budget: SpendBudget | None = None,
        on_usage: UsageCallback | Sequence[UsageCallback] | None = None,
        pricing: Pricing | Mapping[str, PriceLike] | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ConfigurationError("model must be a non-empty model id, e.g. 'gpt-4.1'")
        url = api_base or base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        relay_limiter = rate_limiter if isinstance(rate_limiter, Limiter) else None
        super().__init__(
            model=model.strip(),
            api_key=resolve_api_key(api_key),
            api_base=normalize_base_url(url),
            rate_limiter=None if relay_limiter is not None else rate_limiter,
            **kwargs,
        )
        self._relay_limiter = relay_limiter
        self._budget, self._budget_pricing = budget, pricing
        self._usage = UsageReporter.build(on_usage, pricing)  # the model's own, not the client's
        self._provider()  # validate the client settings now, before any request
        spec = get_model_spec(self.model)
        if (
            self.structured_output_mode == "json_schema"
            and spec.known
            and not spec.supports_json_schema
        ):
            raise ConfigurationError(
                f"{self.model} does not support response_format json_schema according to "
                "the catalog; use structured_output_mode='function_calling'"
            )

    @classmethod
    def class_name(cls) -> str:
        return "HolySheep_LLM"

    @property
    def metadata(self) -> LLMMetadata:
        key = (
            self.model,
            self.context_window,
            self.max_tokens,
            self.is_function_calling_model,
            self._provider().model_info(self.model),
        )
        cached = self._meta
        if cached is not None and cached[0] == key:
            return cached[1]
        spec = get_model_spec(self.model)
        live = self._provider().model_info(self.model)  # the relay's /models, once listed
        tools = self.is_function_calling_model
        meta = LLMMetadata(
            context_window=self.context_window
            or (live and live.input_limit)
            or spec.context_window,
            num_output=self.max_tokens or (live and live.output_limit) or spec.max_output_tokens,
            is_chat_model=True,
            is_function_calling_model=spec.supports_tools if tools is None else tools,
            model_name=self.model,
            system_role=MessageRole.SYSTEM,
        )
        self._meta = (key, meta)
        return meta

    def _call_args(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The core's chat arguments: call kwargs > additional_kwargs > fields."""
        params: dict[str, Any] = {"model": self.model, "messages": to_wire_messages(messages)}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if self.max_tokens is not None:
            params["max_tokens"] = self.max_tokens
        params.update(self.additional_kwargs)
        params.update(kwargs)
        return params

    def _stream_args(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        params = self._call_args(messages, kwargs)
        options = params.pop("stream_options", None)
        include = options.get("include_usage") if isinstance(options, dict) else None
        params["include_usage"] = self.include_usage if include is None else bool(include)
        return params

    # -- chat: sync and async differ only in the I/O call --------------------------------

    def _respond(self, completion: ChatCompletion, model: str) -> ChatResponse:
        event = self._usage.report(completion, model, streamed=False)
        return chat_response(completion, cost_usd=event.cost_usd)

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        args = self._call_args(messages, kwargs)
        args.pop("stream_options", None)
        return self._respond(self._provider().client().chat(**args), args["model"])

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        args = self._call_args(messages, kwargs)
        args.pop("stream_options", None)
        client = await self._provider().async_client()
        return self._respond(await client.chat(**args), args["model"])

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        args = self._stream_args(messages, kwargs)
        stream = self._provider().client().stream_chat(**args)
        return _iterate(stream, self._usage, args["model"])

    async def _astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        args = self._stream_args(messages, kwargs)
        client = await self._provider().async_client()
        return _aiterate(await client.stream_chat(**args), self._usage, args["model"])

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._chat(messages, **kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await self._achat(messages, **kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self._stream_chat(messages, **kwargs)

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        return await self._astream_chat(messages, **kwargs)

    # -- completion: derived from chat -------------------------------------------------

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        response: CompletionResponse = chat_to_completion_decorator(self._chat)(prompt, **kwargs)
        return response

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        response: CompletionResponse = await achat_to_completion_decorator(self._achat)(
            prompt, **kwargs
        )
        return response

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        stream: CompletionResponseGen = stream_chat_to_completion_decorator(self._stream_chat)(
            prompt, **kwargs
        )
        return stream

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        stream: CompletionResponseAsyncGen = await astream_chat_to_completion_decorator(
            self._astream_chat
        )(prompt, **kwargs)
        return stream

    # -- tools -------------------------------------------------------------------------

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            messages.append(ChatMessage(role=MessageRole.USER, content=user_msg))
        elif user_msg is not None:
            messages.append(user_msg)
        prepared: dict[str, Any] = {"messages": messages, **kwargs}
        specs = to_wire_tools(tools, strict=self.strict if strict is None else strict)
        if specs:
            prepared["tools"] = specs
            prepared["tool_choice"] = resolve_tool_choice(tool_choice, tool_required)
            prepared["parallel_tool_calls"] = allow_parallel_tool_calls
        return prepared

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Keep only the first tool call unless parallel calls were allowed."""
        message = response.message
        calls = [b for b in message.blocks if isinstance(b, ToolCallBlock)]
        if not allow_parallel_tool_calls and len(calls) > 1:
            message.blocks = [
                b for b in message.blocks if not isinstance(b, ToolCallBlock) or b is calls[0]
            ]
            if message.additional_kwargs.get("tool_calls"):
                message.additional_kwargs["tool_calls"] = message.additional_kwargs["tool_calls"][
                    :1
                ]
        return response

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        return tool_selections(response, error_on_no_tool_call)

    # -- structured output -------------------------------------------------------------

    def _json_schema_mode(self) -> bool:
        return (
            self.structured_output_mode == "json_schema"
            and self.pydantic_program_mode == PydanticProgramMode.DEFAULT
        )

    def _function_mode(self) -> bool:
        return self.pydantic_program_mode in (
            PydanticProgramMode.DEFAULT,
            PydanticProgramMode.FUNCTION,
        )

    def _structured_messages(
        self, prompt: PromptTemplate, prompt_args: dict[str, Any]
    ) -> list[ChatMessage]:
        return self._extend_messages(prompt.format_messages(llm=self, **prompt_args))

    def _json_schema_call(
        self,
        output_cls: type[BaseModel],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None,
        prompt_args: dict[str, Any],
    ) -> tuple[list[ChatMessage], dict[str, Any]]:
        """The messages and chat kwargs of a json_schema-mode structured call."""
        kwargs = json_schema_kwargs(output_cls, llm_kwargs, strict=self.strict)
        return self._structured_messages(prompt, prompt_args), kwargs

    def structured_predict(
        self,
        output_cls: type[BaseModel],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Any:
        if not self._json_schema_mode():
            return super().structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        messages, kwargs = self._json_schema_call(output_cls, prompt, llm_kwargs, prompt_args)
        return parse_structured(output_cls, self.chat(messages, **kwargs).message.content)

    async def astructured_predict(
        self,
        output_cls: type[BaseModel],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Any:
        if not self._json_schema_mode():
            return await super().astructured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        messages, kwargs = self._json_schema_call(output_cls, prompt, llm_kwargs, prompt_args)
        return parse_structured(output_cls, (await self.achat(messages, **kwargs)).message.content)

    def _structured_stream_call(
        self,
        output_cls: type[BaseModel],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Generator[Any, None, None]:
        if self._json_schema_mode():
            from llama_index.core.program.streaming_utils import (
                process_streaming_content_incremental as fold,
            )

            kwargs = json_schema_kwargs(output_cls, llm_kwargs, strict=self.strict)
            messages = self._structured_messages(prompt, prompt_args)

            def gen() -> Generator[Any, None, None]:
                current = None
                for response in self.stream_chat(messages, **kwargs):
                    current = fold(response, output_cls, current)
                    yield current

            return gen()
        if self._function_mode():  # force the tool call (the core program leaves it "auto")
            return self._stream_program(output_cls, prompt).stream_call(
                llm_kwargs=llm_kwargs, **prompt_args
            )
        return super()._structured_stream_call(output_cls, prompt, llm_kwargs, **prompt_args)

    async def _structured_astream_call(
        self,
        output_cls: type[BaseModel],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> AsyncGenerator[Any, None]:
        if self._json_schema_mode():
            from llama_index.core.program.streaming_utils import (
                process_streaming_content_incremental as fold,
            )

            kwargs = json_schema_kwargs(output_cls, llm_kwargs, strict=self.strict)
            messages = self._structured_messages(prompt, prompt_args)

            async def gen() -> AsyncGenerator[Any, None]:
                current = None
                async for response in await self.astream_chat(messages, **kwargs):
                    current = fold(response, output_cls, current)
                    yield current

            return gen()
        if self._function_mode():
            return await self._stream_program(output_cls, prompt).astream_call(
                llm_kwargs=llm_kwargs, **prompt_args
            )
        return await super()._structured_astream_call(output_cls, prompt, llm_kwargs, **prompt_args)

    def _stream_program(
        self, output_cls: type[BaseModel], prompt: PromptTemplate
    ) -> FunctionCallingProgram[Any]:
        from llama_index.core.program.function_program import FunctionCallingProgram

        return FunctionCallingProgram.from_defaults(
            output_cls=output_cls, prompt=prompt, llm=self, tool_choice="required"
        )
