"""Token and cost totals over a block of LangChain code: ``get_holysheep_callback()``.

Like ``get_openai_callback``: a context manager that registers a callback handler for
every run started inside it (chains, agents, ``batch``, streams, threads started by
LangChain executors and asyncio tasks: the handler lives in a ``ContextVar``). It reads
``usage_metadata`` and ``response_metadata`` (``model_name``, ``cost_usd``) of each
finished model run, so streamed calls count exactly once. Nested blocks also report to the
enclosing block.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, LLMResult
from langchain_core.tracers.context import register_configure_hook

from holysheep_relay import ModelTotals, Usage, UsageEvent, UsageLedger

__all__ = ["HolySheepCallbackHandler", "get_holysheep_callback"]


class HolySheepCallbackHandler(BaseCallbackHandler):
    """Totals requests, tokens and USD cost of the model runs it sees (thread-safe).

    >>> from langchain_holysheep import get_holysheep_callback
    >>> with get_holysheep_callback() as cb:
    ...     pass  # llm.invoke(...), chain.stream(...), agent runs...
    >>> cb.total_tokens, cb.total_cost, cb.by_model
    (0, 0.0, {})
    """

    run_inline = True  # update totals before ainvoke() returns

    def __init__(self, parent: HolySheepCallbackHandler | None = None) -> None:
        super().__init__()
        self.ledger = UsageLedger()
        self._parent = parent

    def __repr__(self) -> str:
        t = self.ledger.total
        return (
            f"Requests: {t.requests}\nTokens Used: {t.total_tokens}\n"
            f"\tPrompt Tokens: {t.prompt_tokens}\n\t\tCached: {t.cached_tokens}\n"
            f"\tCompletion Tokens: {t.completion_tokens}\n\t\tReasoning: {t.reasoning_tokens}\n"
            f"Total Cost (USD): ${t.cost_usd:.6f}"
            + (f" (+{t.unpriced_requests} unpriced)" if t.unpriced_requests else "")
            + (
                f"\nRequests without usage: {t.requests_without_usage} (their tokens are missing)"
                if t.requests_without_usage
                else ""
            )
        )

    @property
    def requests(self) -> int:
        return self.ledger.total.requests

    successful_requests = requests

    @property
    def prompt_tokens(self) -> int:
        return self.ledger.total.prompt_tokens

    @property
    def completion_tokens(self) -> int:
        return self.ledger.total.completion_tokens

    @property
    def total_tokens(self) -> int:
        return self.ledger.total.total_tokens

    @property
    def cached_tokens(self) -> int:
        return self.ledger.total.cached_tokens

    @property
    def reasoning_tokens(self) -> int:
        return self.ledger.total.reasoning_tokens

    @property
    def total_cost(self) -> float:
        """USD, summed over runs with a known price (see ``unpriced_requests``)."""
        return self.ledger.total.cost_usd

    @property
    def unpriced_requests(self) -> int:
        return self.ledger.total.unpriced_requests

    @property
    def requests_without_usage(self) -> int:
        """Runs whose reply carried no usage: their tokens are not in the totals."""
        return self.ledger.total.requests_without_usage

    @property
    def by_model(self) -> dict[str, ModelTotals]:
        """Per-model totals (model id as the relay reported it)."""
        return self.ledger.by_model

    def report(self) -> str:
        return self.ledger.report()

    def record(self, event: UsageEvent) -> None:
        self.ledger(event)
        if self._parent is not None:
            self._parent.record(event)

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        for generations in response.generations:
            event = event_from_generation(generations[0]) if generations else None
            if event is not None:
                self.record(event)


def event_from_generation(generation: Any) -> UsageEvent | None:
    """The usage of one finished model run, or None (not a chat run, or a cache hit)."""
    if not isinstance(generation, ChatGeneration) or not isinstance(generation.message, AIMessage):
        return None
    message = generation.message
    meta = message.response_metadata
    md = message.usage_metadata
    if md is not None and md.get("total_cost") == 0:
        return None  # LangChain marks cache hits this way: nothing was billed
    usage = None
    if md is not None:
        usage = Usage(
            prompt_tokens=md.get("input_tokens", 0),
            completion_tokens=md.get("output_tokens", 0),
            total_tokens=md.get("total_tokens", 0),
            cached_tokens=(md.get("input_token_details") or {}).get("cache_read") or 0,
            reasoning_tokens=(md.get("output_token_details") or {}).get("reasoning") or 0,
        )
    model = meta.get("model_name") or meta.get("model") or "unknown"
    cost = meta.get("cost_usd")
    return UsageEvent(
        model=str(model),
        usage=usage,
        cost_usd=float(cost) if isinstance(cost, (int, float)) else None,
        latency_ms=float(meta.get("latency_ms") or 0.0),
        request_id=meta.get("request_id"),
        streamed=isinstance(generation, ChatGenerationChunk),
    )


_current: ContextVar[HolySheepCallbackHandler | None] = ContextVar(
    "holysheep_callback", default=None
)
register_configure_hook(_current, inheritable=True)


@contextmanager
def get_holysheep_callback() -> Iterator[HolySheepCallbackHandler]:
    """Yield a handler that totals every model run inside the ``with`` block.

    >>> with get_holysheep_callback() as cb:  # doctest: +SKIP
    ...     llm.invoke("Hi")
    ...     chunks = list(llm.stream("Hi"))
    >>> cb.requests, cb.total_tokens, cb.total_cost  # doctest: +SKIP
    (2, 24, 0.00012)
    >>> cb.by_model["gpt-4.1"].cost_usd  # doctest: +SKIP
    """
    handler = HolySheepCallbackHandler(parent=_current.get())
    token = _current.set(handler)
    try:
        yield handler
    finally:
        _current.reset(token)
