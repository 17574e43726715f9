"""TokenCountingHandler and instrumentation see the relay's exact usage, for chat and streams.

The handler is given a character tokenizer: if it ever fell back to estimating, its counts
would be character counts, far from the emulator's word-based usage.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import LLMChatEndEvent, LLMCompletionEndEvent

from holysheep_relay.testing import Emulator, completion_tokens, count_prompt_tokens
from tests.llama_index.conftest import MODES, make_llm, run, user


class _Collect(BaseEventHandler):
    events: list[BaseEvent] = []

    @classmethod
    def class_name(cls) -> str:
        return "Collect"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)


@pytest.fixture
def events() -> Iterator[list[BaseEvent]]:
    handler = _Collect(events=[])
    root = get_dispatcher()
    root.add_event_handler(handler)
    try:
        yield handler.events
    finally:
        root.event_handlers.remove(handler)


@pytest.mark.parametrize("mode", MODES)
async def test_token_counting_handler_uses_relay_usage(emulator: Emulator, mode: str) -> None:
    counter = TokenCountingHandler(tokenizer=list)
    llm = make_llm(emulator, callback_manager=CallbackManager([counter]))
    final = (await run(llm, mode, user("count my tokens please"))).final
    usage = final.raw["usage"]
    assert usage["prompt_tokens"] == count_prompt_tokens(emulator.requests[-1].json)
    [event] = counter.llm_token_counts
    assert event.prompt_token_count == usage["prompt_tokens"]
    assert event.completion_token_count == usage["completion_tokens"]
    assert counter.total_llm_token_count == usage["total_tokens"]


@pytest.mark.parametrize("mode", MODES)
async def test_token_counting_over_several_calls(emulator: Emulator, mode: str) -> None:
    counter = TokenCountingHandler(tokenizer=list)
    llm = make_llm(emulator, callback_manager=CallbackManager([counter]))
    totals = 0
    for text in ("one", "one two", "one two three"):
        totals += (await run(llm, mode, user(text))).final.additional_kwargs["total_tokens"]
    assert len(counter.llm_token_counts) == 3
    assert counter.total_llm_token_count == totals
    assert counter.prompt_llm_token_count == sum(
        count_prompt_tokens(r.json) for r in emulator.requests
    )


async def test_token_counting_for_completions(emulator: Emulator) -> None:
    counter = TokenCountingHandler(tokenizer=list)
    llm = make_llm(emulator, callback_manager=CallbackManager([counter]))
    llm.complete("hello there")
    list(llm.stream_complete("hello there"))
    expected = count_prompt_tokens(emulator.requests[0].json)
    assert [e.prompt_token_count for e in counter.llm_token_counts] == [expected, expected]
    answer = completion_tokens("Hello! You said: hello there", None, [])
    assert [e.completion_token_count for e in counter.llm_token_counts] == [answer, answer]


@pytest.mark.parametrize("mode", MODES)
async def test_chat_end_event_carries_usage(
    emulator: Emulator, mode: str, events: list[BaseEvent]
) -> None:
    llm = make_llm(emulator)
    final = (await run(llm, mode, user())).final
    [end] = [e for e in events if isinstance(e, LLMChatEndEvent)]
    assert end.response is not None
    assert end.response.raw["usage"]["prompt_tokens"] == count_prompt_tokens(
        emulator.requests[-1].json
    )
    assert end.response.additional_kwargs["total_tokens"] == final.additional_kwargs["total_tokens"]
    assert end.response.additional_kwargs["request_id"] == "req_1"
    assert end.response.message.content == final.message.content


async def test_completion_end_event_carries_usage(
    emulator: Emulator, events: list[BaseEvent]
) -> None:
    [r async for r in await make_llm(emulator).astream_complete("hello")]
    [end] = [e for e in events if isinstance(e, LLMCompletionEndEvent)]
    answer = completion_tokens("Hello! You said: hello", None, [])
    assert end.response.raw["usage"]["completion_tokens"] == answer
    assert end.response.additional_kwargs["completion_tokens"] == answer


def test_instrumentation_payload_has_no_key(emulator: Emulator, events: list[BaseEvent]) -> None:
    from llama_index_holysheep import HolySheep
    from tests.llama_index.conftest import SECRET_KEY

    llm = HolySheep(api_key=SECRET_KEY, base_url=emulator.base_url)
    llm.chat(user())
    assert events
    assert all(SECRET_KEY not in e.model_dump_json() for e in events)
