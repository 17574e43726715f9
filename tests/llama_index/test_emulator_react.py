"""The emulator's ReAct-format answers (added for text-only agents such as ReActAgent)."""

from __future__ import annotations

import json

from llama_index.core.agent.react.formatter import ReActChatFormatter
from llama_index.core.agent.react.output_parser import ReActOutputParser
from llama_index.core.agent.react.types import (
    ActionReasoningStep,
    ObservationReasoningStep,
    ResponseReasoningStep,
)
from llama_index.core.llms import ChatMessage
from llama_index.core.tools import FunctionTool

from holysheep_relay.testing._react import react_answer


def lookup(city: str, year: int) -> str:
    """Look up the population of a city in a year."""
    return f"{city}: 2 million in {year}"


def echo(text: str) -> str:
    """Echo text."""
    return text


TOOLS = [FunctionTool.from_defaults(lookup), FunctionTool.from_defaults(echo)]
QUESTION = ChatMessage(role="user", content="How many people lived in Paris in 1990?")


def _wire(messages: list[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role.value, "content": m.content or ""} for m in messages]


def test_first_answer_is_an_action_on_the_first_listed_tool() -> None:
    prompt = ReActChatFormatter.from_defaults().format(TOOLS, [QUESTION])
    answer = react_answer(_wire(prompt))
    assert answer is not None
    step = ReActOutputParser().parse(answer)
    assert isinstance(step, ActionReasoningStep)
    assert step.action == "lookup"
    assert step.action_input == {"city": "Paris", "year": 1990}


def test_answer_after_an_observation_is_final_and_echoes_it() -> None:
    reasoning = [
        ActionReasoningStep(thought="t", action="lookup", action_input={"city": "Paris"}),
        ObservationReasoningStep(observation="Paris: 2 million in 1990"),
    ]
    prompt = ReActChatFormatter.from_defaults().format(TOOLS, [QUESTION], reasoning)
    answer = react_answer(_wire(prompt))
    assert answer is not None
    step = ReActOutputParser().parse(answer)
    assert isinstance(step, ResponseReasoningStep)
    assert step.response == "Paris: 2 million in 1990"


def test_bracketed_tool_lists_are_understood_too() -> None:
    messages = [
        {
            "role": "user",
            "content": "Use this format:\nThought: ...\nAction: one of [search, calculator]\n"
            "Action Input: ...\nQuestion: what is 2+2",
        }
    ]
    answer = react_answer(messages)
    assert answer is not None
    assert "Action: search\nAction Input: " in answer
    json.loads(answer.split("Action Input: ", 1)[1])


def test_ordinary_prompts_are_left_alone() -> None:
    assert react_answer([{"role": "user", "content": "Thought: hello"}]) is None
    assert react_answer([{"role": "user", "content": "What is the capital of France?"}]) is None
