"""With only the core installed, each integration says which extra to install.

Each case runs in a fresh interpreter where the framework is made unimportable, so nothing
is uninstalled and the test process keeps its own imports. Two ways, both as users meet
them: a finder that answers "No module named ..." for it, exactly as an uninstalled
package does, and ``sys.modules[name] = None``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Prints what the import raised: class, message, ImportError-ness and the chained cause.
_PROBE = """
import json, sys

class Uninstalled:
    def find_spec(self, name, path=None, target=None):
        if name in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

if {as_none!r}:
    for blocked in {blocked!r}:
        sys.modules[blocked] = None
else:
    sys.meta_path.insert(0, Uninstalled())
try:
{statement}
except BaseException as exc:
    cause = exc.__cause__
    print(json.dumps({{
        "type": type(exc).__name__,
        "message": str(exc),
        "import_error": isinstance(exc, ImportError),
        "cause": type(cause).__name__ if cause is not None else None,
        "cause_name": getattr(cause, "name", None),
    }}))
else:
    print(json.dumps(None))
"""


def _probe(
    blocked: list[str], statement: str, *, as_none: bool = False
) -> dict[str, object] | None:
    code = _PROBE.format(blocked=blocked, as_none=as_none, statement=f"    {statement}")
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    result: dict[str, object] | None = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    ("blocked", "statement", "extra"),
    [
        (["langchain_core"], "from langchain_holysheep import ChatHolySheep", "langchain"),
        (["langchain_core"], "from langchain_holysheep import HolySheepEmbeddings", "langchain"),
        (
            ["langchain_core"],
            "import langchain_holysheep; langchain_holysheep.RateLimitError",
            "langchain",
        ),
        (["llama_index.core"], "from llama_index_holysheep import HolySheep", "llama-index"),
        (["llama_index.core"], "from llama_index.llms.holysheep import HolySheep", "llama-index"),
        (
            ["llama_index.core"],
            "from llama_index.embeddings.holysheep import HolySheepEmbedding",
            "llama-index",
        ),
    ],
)
@pytest.mark.parametrize("as_none", [False, True], ids=["uninstalled", "sys.modules-None"])
def test_a_missing_framework_names_the_extra_to_install(
    blocked: list[str], statement: str, extra: str, as_none: bool
) -> None:
    raised = _probe(blocked, statement, as_none=as_none)
    assert raised is not None
    assert raised["type"] == "ModuleNotFoundError"
    assert raised["import_error"] is True
    assert f"pip install 'holysheep-integrations[{extra}]'" in str(raised["message"])
    assert raised["cause"] == "ModuleNotFoundError"  # the original error is chained
    assert str(raised["cause_name"]).startswith(blocked[0])


def test_the_core_and_the_lazy_package_import_without_any_framework() -> None:
    statement = "import holysheep_relay, langchain_holysheep; holysheep_relay.RelayClient"
    assert _probe(["langchain_core", "llama_index.core", "redis"], statement) is None


def test_a_missing_redis_py_names_the_redis_extra() -> None:
    raised = _probe(
        ["redis"], "from holysheep_relay import RedisRateLimiter; RedisRateLimiter('redis://x')"
    )
    assert raised is not None
    assert raised["type"] == "ConfigurationError"
    assert "pip install 'holysheep-integrations[redis]'" in str(raised["message"])


def test_other_import_errors_are_left_alone() -> None:
    """A missing part of an installed framework (a version mismatch) is not blamed on the
    extra."""
    raised = _probe(["langchain_core.messages"], "from langchain_holysheep import ChatHolySheep")
    assert raised is not None
    assert raised["import_error"] is True
    assert "holysheep-integrations[" not in str(raised["message"])
