"""langchain-tests standard integration suites, run against the relay emulator on loopback."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from langchain_core.messages import AIMessage
from langchain_tests.integration_tests import (
    ChatModelIntegrationTests,
    EmbeddingsIntegrationTests,
)

from holysheep_relay.testing import Emulator
from langchain_holysheep import ChatHolySheep, HolySheepEmbeddings
from tests import cassette_config
from tests.langchain.helpers import collect

UsageDetail = Literal[
    "audio_input", "audio_output", "reasoning_output", "cache_read_input", "cache_creation_input"
]


class TestChatHolySheepIntegration(ChatModelIntegrationTests):
    """Flags follow the catalog for gpt-4.1 and what the adapter translates.

    Image, PDF and audio flags stay off: those standard tests download their media from the
    internet, which the offline run forbids (image and Anthropic-style content translation
    is covered offline in test_convert.py). ``test_stream_time`` replays a cassette recorded
    from the emulator (cassettes/langchain/test_standard_integration/).
    """

    @pytest.fixture(autouse=True)
    def _relay(self, relay_env: Emulator) -> Emulator:
        return relay_env  # HOLYSHEEP_API_KEY / HOLYSHEEP_BASE_URL point at the emulator

    @pytest.fixture(scope="class")
    @classmethod
    def vcr_config(cls, request: pytest.FixtureRequest) -> dict[str, Any]:
        # test_stream_time benchmarks the replay several rounds: allow repeats
        mode = request.config.getoption("--record-mode", default=None) or "none"
        return {**cassette_config.vcr_config(mode), "allow_playback_repeats": True}

    @property
    def enable_vcr_tests(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True  # tool dicts with input_schema, image source blocks, thinking blocks

    @property
    def chat_model_class(self) -> type[ChatHolySheep]:
        return ChatHolySheep

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "gpt-4.1"}

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "deepseek-v3.2"

    @property
    def supported_usage_metadata_details(
        self,
    ) -> dict[Literal["invoke", "stream"], list[UsageDetail]]:
        return {
            "invoke": ["reasoning_output", "cache_read_input"],
            "stream": ["reasoning_output", "cache_read_input"],
        }

    def _run(self, llm: ChatHolySheep, stream: bool) -> AIMessage:
        prompt = "Why is the sky blue? Think it through."
        result = collect(llm.stream(prompt)) if stream else llm.invoke(prompt)
        assert isinstance(result, AIMessage)
        return result

    def invoke_with_reasoning_output(self, *, stream: bool = False) -> AIMessage:
        return self._run(ChatHolySheep(model="deepseek-reasoner"), stream)

    def invoke_with_cache_read_input(self, *, stream: bool = False) -> AIMessage:
        llm = ChatHolySheep(model="gpt-4.1", extra_body={"emulator_cached_tokens": 4})
        return self._run(llm, stream)


class TestHolySheepEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @pytest.fixture(autouse=True)
    def _relay(self, relay_env: Emulator) -> Emulator:
        return relay_env

    @property
    def embeddings_class(self) -> type[HolySheepEmbeddings]:
        return HolySheepEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": "text-embedding-3-small"}
