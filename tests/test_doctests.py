"""Every docstring example in the three packages runs, and stays true."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ("holysheep_relay", "langchain_holysheep", "llama_index_holysheep")


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        names.append(package)
        path = importlib.import_module(package).__path__
        names += [m.name for m in pkgutil.walk_packages(path, prefix=f"{package}.")]
    return names


MODULES = _modules()


def test_every_module_is_collected() -> None:
    assert {"holysheep_relay.ratelimit", "holysheep_relay.served"} <= set(MODULES)
    assert "langchain_holysheep.chat_models" in MODULES
    assert "llama_index_holysheep.llms" in MODULES
    assert {"holysheep_relay.testing._server", "holysheep_relay.testing.pytest_plugin"} <= set(
        MODULES
    )


# The emulator's examples start an Emulator on 127.0.0.1.
PARAMS = [
    pytest.param(name, marks=pytest.mark.loopback) if ".testing" in name else name
    for name in MODULES
]


@pytest.mark.parametrize("name", PARAMS)
def test_docstring_examples(name: str, no_relay_env: None) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
