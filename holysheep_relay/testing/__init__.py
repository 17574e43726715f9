"""Test against a local, deterministic emulator of the HolySheep relay: no key, no network.

``Emulator`` is a real HTTP server on 127.0.0.1 speaking the relay's OpenAI-compatible
protocol (``POST /chat/completions`` streamed or not, ``POST /embeddings``,
``GET /models``), with scripted answers (:meth:`Emulator.script`), injectable faults
(:meth:`Emulator.add_fault`, kinds in ``FAULT_KINDS``) and a record of what it received
(:attr:`Emulator.requests`). Installing the package also installs a pytest plugin with the
fixtures ``holysheep_emulator`` and ``holysheep_env``, and ``holysheep emulate`` serves one
from the terminal. Standard library only (plus the core's httpx and pydantic); nothing here
is imported by ``import holysheep_relay``. The guide is ``docs/testing.md``.

>>> from holysheep_relay import RelayClient
>>> from holysheep_relay.testing import FAKE_API_KEY, Emulator
>>> with Emulator() as emulator:
...     emulator.script(json={"city": "Lyon"})
...     with RelayClient(base_url=emulator.base_url, api_key=FAKE_API_KEY) as client:
...         reply = client.chat(model="gpt-4.1", messages=[{"role": "user", "content": "JSON?"}])
...     print(reply.choices[0].message.content, emulator.requests[0].path)
{"city": "Lyon"} /chat/completions

The token counting the emulator reports (a token is a whitespace-separated word, plus 3
per message and 10 per tool) is public, for tests that compute expected usage:
``count_tokens``, ``count_prompt_tokens(body)``, ``completion_tokens(content, reasoning,
tool_calls)``; so is the embedding of a text (``embed_text``, ``DEFAULT_DIMENSIONS``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._embeddings import DEFAULT_DIMENSIONS, embed_text
    from ._faults import CONNECTION_KINDS, ERROR_KINDS, FAULT_KINDS, STREAM_KINDS
    from ._server import DEFAULT_MODELS, FAKE_API_KEY, Emulator, RecordedRequest
    from ._tokens import completion_tokens, count_prompt_tokens, count_tokens

__all__ = [
    "CONNECTION_KINDS",
    "DEFAULT_DIMENSIONS",
    "DEFAULT_MODELS",
    "ERROR_KINDS",
    "FAKE_API_KEY",
    "FAULT_KINDS",
    "STREAM_KINDS",
    "Emulator",
    "RecordedRequest",
    "completion_tokens",
    "count_prompt_tokens",
    "count_tokens",
    "embed_text",
]

# Loaded on first use, so that ``holysheep --help`` (which registers ``holysheep emulate``
# from ``._cli``) does not pay for the HTTP server's imports.
_HOMES = {
    "DEFAULT_DIMENSIONS": "._embeddings",
    "embed_text": "._embeddings",
    "CONNECTION_KINDS": "._faults",
    "ERROR_KINDS": "._faults",
    "FAULT_KINDS": "._faults",
    "STREAM_KINDS": "._faults",
    "DEFAULT_MODELS": "._server",
    "FAKE_API_KEY": "._server",
    "Emulator": "._server",
    "RecordedRequest": "._server",
    "completion_tokens": "._tokens",
    "count_prompt_tokens": "._tokens",
    "count_tokens": "._tokens",
}

if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home, __name__), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
