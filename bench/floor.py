"""No-network fake models of each framework: the framework's own cost, nothing else.

Each yields the same chunks / replies the fake relay sends, built from memory, through the
framework's public machinery (callbacks, instrumentation, message types). A "floor" row in
the report is raw httpx plus one of these: the cheapest an adapter on that framework can be.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from common import (
    MODEL,
    TEXT_REPLY,
    TEXT_TOTAL_TOKENS,
    TOOL_ARGS,
    TOOL_NAME,
    TOOL_TOTAL_TOKENS,
    WORDS,
    stream_total_tokens,
)


def _usage(total: int) -> dict[str, int]:
    return {"input_tokens": 12, "output_tokens": total - 12, "total_tokens": total}


def langchain_floor_model(chunks: int) -> Any:
    """A ``BaseChatModel`` whose replies and stream come from memory."""
    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
    from langchain_core.utils.function_calling import convert_to_openai_tool

    class FloorChatModel(BaseChatModel):
        n: int = 2000

        @property
        def _llm_type(self) -> str:
            return "bench-floor"

        def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
            return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

        def _reply(self, tools: Any) -> ChatResult:
            meta = {"model_name": MODEL, "finish_reason": "tool_calls" if tools else "stop"}
            if tools:
                msg = AIMessage(
                    content="",
                    tool_calls=[
                        {
                            "name": TOOL_NAME,
                            "args": dict(TOOL_ARGS),
                            "id": "call_bench_0001",
                            "type": "tool_call",
                        }
                    ],
                    usage_metadata=_usage(TOOL_TOTAL_TOKENS),  # type: ignore[arg-type]
                    response_metadata=meta,
                )
            else:
                msg = AIMessage(
                    content=TEXT_REPLY,
                    usage_metadata=_usage(TEXT_TOTAL_TOKENS),  # type: ignore[arg-type]
                    response_metadata=meta,
                )
            return ChatResult(generations=[ChatGeneration(message=msg)])

        def _generate(
            self,
            messages: list[BaseMessage],
            stop: list[str] | None = None,
            run_manager: CallbackManagerForLLMRun | None = None,
            **kwargs: Any,
        ) -> ChatResult:
            return self._reply(kwargs.get("tools"))

        async def _agenerate(
            self,
            messages: list[BaseMessage],
            stop: list[str] | None = None,
            run_manager: AsyncCallbackManagerForLLMRun | None = None,
            **kwargs: Any,
        ) -> ChatResult:
            return self._reply(kwargs.get("tools"))

        def _chunks(self) -> Iterator[ChatGenerationChunk]:
            for i in range(self.n):
                yield ChatGenerationChunk(message=AIMessageChunk(content=WORDS[i % len(WORDS)]))
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content="",
                    usage_metadata=_usage(stream_total_tokens(self.n)),  # type: ignore[arg-type]
                    response_metadata={"model_name": MODEL, "finish_reason": "stop"},
                )
            )

        def _stream(
            self,
            messages: list[BaseMessage],
            stop: list[str] | None = None,
            run_manager: CallbackManagerForLLMRun | None = None,
            **kwargs: Any,
        ) -> Iterator[ChatGenerationChunk]:
            # BaseChatModel.stream() itself reports each chunk to the callbacks.
            yield from self._chunks()

        async def _astream(
            self,
            messages: list[BaseMessage],
            stop: list[str] | None = None,
            run_manager: AsyncCallbackManagerForLLMRun | None = None,
            **kwargs: Any,
        ) -> AsyncIterator[ChatGenerationChunk]:
            for chunk in self._chunks():
                yield chunk

    return FloorChatModel(n=chunks)


# C901: the count is the sum of the nested class's one-line methods; the class is defined
# in here so that llama_index is only imported when this floor is measured.
def llama_index_floor_model(chunks: int) -> Any:  # noqa: C901
    """A ``FunctionCallingLLM`` whose replies and stream come from memory."""
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

    def counts(total: int) -> dict[str, int]:
        return {"prompt_tokens": 12, "completion_tokens": total - 12, "total_tokens": total}

    class FloorLLM(FunctionCallingLLM):
        n: int = 2000

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(model_name=MODEL, is_chat_model=True, is_function_calling_model=True)

        def _reply(self, tools: Any) -> ChatResponse:
            if tools:
                block = ToolCallBlock(
                    tool_call_id="call_bench_0001", tool_name=TOOL_NAME, tool_kwargs=dict(TOOL_ARGS)
                )
                msg = ChatMessage(role=MessageRole.ASSISTANT, blocks=[block])
                return ChatResponse(message=msg, additional_kwargs=counts(TOOL_TOTAL_TOKENS))
            msg = ChatMessage(role=MessageRole.ASSISTANT, content=TEXT_REPLY)
            return ChatResponse(message=msg, additional_kwargs=counts(TEXT_TOTAL_TOKENS))

        def _gen(self) -> Iterator[ChatResponse]:
            content = ""
            for i in range(self.n):
                delta = WORDS[i % len(WORDS)]
                content += delta
                yield ChatResponse(
                    message=ChatMessage(role=MessageRole.ASSISTANT, content=content), delta=delta
                )
            yield ChatResponse(
                message=ChatMessage(role=MessageRole.ASSISTANT, content=content),
                delta="",
                additional_kwargs=counts(stream_total_tokens(self.n)),
            )

        @llm_chat_callback()
        def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
            return self._reply(kwargs.get("tools"))

        @llm_chat_callback()
        async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
            return self._reply(kwargs.get("tools"))

        @llm_chat_callback()
        def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
            return self._gen()

        @llm_chat_callback()
        async def astream_chat(
            self, messages: Sequence[ChatMessage], **kwargs: Any
        ) -> ChatResponseAsyncGen:
            async def agen() -> ChatResponseAsyncGen:
                for r in self._gen():
                    yield r

            return agen()

        @llm_completion_callback()
        def complete(self, prompt: str, formatted: bool = False, **kw: Any) -> CompletionResponse:
            return CompletionResponse(text=TEXT_REPLY)

        @llm_completion_callback()
        async def acomplete(
            self, prompt: str, formatted: bool = False, **kw: Any
        ) -> CompletionResponse:
            return CompletionResponse(text=TEXT_REPLY)

        @llm_completion_callback()
        def stream_complete(
            self, prompt: str, formatted: bool = False, **kw: Any
        ) -> CompletionResponseGen:
            raise NotImplementedError

        @llm_completion_callback()
        async def astream_complete(
            self, prompt: str, formatted: bool = False, **kw: Any
        ) -> CompletionResponseAsyncGen:
            raise NotImplementedError

        def _prepare_chat_with_tools(
            self,
            tools: Sequence[Any],
            user_msg: Any = None,
            chat_history: list[ChatMessage] | None = None,
            verbose: bool = False,
            allow_parallel_tool_calls: bool = False,
            tool_required: bool = False,
            **kwargs: Any,
        ) -> dict[str, Any]:
            specs = [t.metadata.to_openai_tool(skip_length_check=True) for t in tools]
            messages = list(chat_history or [])
            if user_msg is not None:
                messages.append(
                    user_msg
                    if isinstance(user_msg, ChatMessage)
                    else ChatMessage(role=MessageRole.USER, content=user_msg)
                )
            return {"messages": messages, "tools": specs, **kwargs}

        def get_tool_calls_from_response(
            self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
        ) -> list[ToolSelection]:
            return [
                ToolSelection(
                    tool_id=b.tool_call_id or "",
                    tool_name=b.tool_name,
                    tool_kwargs=b.tool_kwargs if isinstance(b.tool_kwargs, dict) else {},
                )
                for b in response.message.blocks
                if isinstance(b, ToolCallBlock)
            ]

    return FloorLLM(n=chunks)
