"""The runnable examples in the public docstrings stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "langchain_holysheep",
    "langchain_holysheep.chat_models",
    "langchain_holysheep.embeddings",
    "langchain_holysheep.callbacks",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, no_relay_env: None) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
