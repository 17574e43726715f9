"""Offline, deterministic emulator of the HolySheep OpenAI-compatible relay, for tests.

>>> from tests.emulator import Emulator
>>> with Emulator() as emu:  # doctest: +SKIP
...     emu.add_fault("rate_limit", retry_after=0)
...     ...  # point a client at emu.base_url

Routes (with or without ``/v1``): ``POST /chat/completions``, ``POST /embeddings``,
``GET /models``. Answers are described in :mod:`.chat`, token counting in :mod:`.tokens`,
embeddings in :mod:`.embeddings`, fault kinds in :mod:`.faults` / :mod:`.stream` and how
stream-only faults degrade for non-stream requests in :mod:`.server`.

Modules: ``server`` (Emulator, routing, endpoints), ``transport`` (HTTP/1.1 server and
handler), ``chat`` (answers and chunks), ``react`` (ReAct text prompts), ``stream`` (SSE
framing + stream faults), ``faults`` (kinds, queue, error replies), ``embeddings``,
``synth`` (JSON-Schema instance synthesiser), ``schemacheck`` (small validator), ``tokens``.
"""

from .chat import CREATED, SYSTEM_FINGERPRINT
from .embeddings import DEFAULT_DIMENSIONS, embed_text
from .faults import CONNECTION_KINDS, ERROR_KINDS, FAULT_KINDS, STREAM_KINDS
from .schemacheck import schema_errors
from .server import DEFAULT_MODELS, Emulator, RecordedRequest
from .synth import synthesize
from .tokens import (
    completion_tokens,
    count_prompt_tokens,
    count_tokens,
    message_text,
    split_words,
)

__all__ = [
    "CONNECTION_KINDS",
    "CREATED",
    "DEFAULT_DIMENSIONS",
    "DEFAULT_MODELS",
    "ERROR_KINDS",
    "FAULT_KINDS",
    "STREAM_KINDS",
    "SYSTEM_FINGERPRINT",
    "Emulator",
    "RecordedRequest",
    "completion_tokens",
    "count_prompt_tokens",
    "count_tokens",
    "embed_text",
    "message_text",
    "schema_errors",
    "split_words",
    "synthesize",
]
