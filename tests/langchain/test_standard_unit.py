"""langchain-tests standard unit suites for ChatHolySheep and HolySheepEmbeddings."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.unit_tests import ChatModelUnitTests, EmbeddingsUnitTests

from langchain_holysheep import ChatHolySheep, HolySheepEmbeddings

ENV_KEY = "hs_fake_env_key_0123456789abcdef"


@pytest.fixture(autouse=True)
def _clean_env(no_relay_env: None) -> None:
    """Snapshots and env tests must not depend on the developer's HOLYSHEEP_* variables."""


class TestChatHolySheepUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatHolySheep]:
        return ChatHolySheep

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "gpt-4.1", "api_key": "hs_fake_unit_key_0123456789abcdef"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"HOLYSHEEP_API_KEY": ENV_KEY, "HOLYSHEEP_BASE_URL": "http://127.0.0.1:9/v1"},
            {"model": "gpt-4.1"},
            {"api_key": ENV_KEY, "base_url": "http://127.0.0.1:9/v1"},
        )

    @property
    def supports_json_mode(self) -> bool:
        return True  # the catalog: gpt-4.1 supports response_format json_object

    @pytest.mark.xfail(
        strict=True,
        raises=ValueError,
        reason=(
            "langchain-core 1.x load() only deserialises classes listed in its own "
            "serialization mapping unless the caller names them in allowed_objects; "
            "the standard test passes allowed_objects='all', which excludes every "
            "integration outside that list. The same snapshot + round trip with "
            "allowed_objects=[ChatHolySheep] passes in test_config.py::test_round_trip."
        ),
    )
    def test_serdes(self, model: Any, snapshot: Any) -> None:
        super().test_serdes(model, snapshot)


class TestHolySheepEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[HolySheepEmbeddings]:
        return HolySheepEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": "text-embedding-3-small", "api_key": "hs_fake_unit_key_0123456789abcdef"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"HOLYSHEEP_API_KEY": ENV_KEY},
            {"model": "text-embedding-3-small"},
            {"api_key": ENV_KEY},
        )
