"""Deterministic embeddings: a normalised, signed, hashed bag of words.

Each lower-cased word (stop words dropped, a plural ``s`` stripped) is hashed with
``zlib.crc32`` into one of ``dimensions`` buckets with a hash-derived sign, so texts that
share words have a higher cosine similarity. Token-array inputs hash each token id.
"""

from __future__ import annotations

import base64
import math
import re
import struct
import zlib
from typing import Any

__all__ = [
    "DEFAULT_DIMENSIONS",
    "embed_text",
    "embed_tokens",
    "embedding_inputs",
    "embeddings_response",
    "encode_base64",
]

DEFAULT_DIMENSIONS = 64

_WORD = re.compile(r"[^\W_]+")
_STOPWORDS = frozenset(
    " ".join(
        (
            "a an and are as at be by do for from has have in is it its of on or that the",
            "this to was were what which who with",
        )
    ).split()
)


def _normalise(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _vector(features: list[str], dimensions: int) -> list[float]:
    vector = [0.0] * dimensions
    for feature in features:
        digest = zlib.crc32(feature.encode("utf-8"))
        vector[digest % dimensions] += 1.0 if (digest >> 16) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        vector[0] = 1.0
        return vector
    return [v / norm for v in vector]


def embed_text(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """Unit vector for ``text``."""
    words = [_normalise(w) for w in _WORD.findall(text.lower())]
    features = [w for w in words if w not in _STOPWORDS] or words
    return _vector(features, dimensions)


def embed_tokens(tokens: list[int], dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """Unit vector for a token-id array."""
    return _vector([f"#{t}" for t in tokens], dimensions)


def encode_base64(vector: list[float]) -> str:
    """Little-endian float32 packing, base64-encoded (OpenAI ``encoding_format=base64``)."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def embedding_inputs(raw: Any) -> list[str | list[int]] | None:
    """Normalise ``input`` to a list of strings / token arrays; ``None`` if malformed."""
    if isinstance(raw, str):
        return [raw]
    if not isinstance(raw, list) or not raw:
        return None
    if all(isinstance(t, int) and not isinstance(t, bool) for t in raw):
        return [list(raw)]
    items: list[str | list[int]] = []
    for item in raw:
        if isinstance(item, str):
            items.append(item)
        elif isinstance(item, list) and all(isinstance(t, int) for t in item):
            items.append(list(item))
        else:
            return None
    return items


def embeddings_response(
    inputs: list[str | list[int]], model: str, dimensions: int, encoding_format: str
) -> dict[str, Any]:
    """The ``CreateEmbeddingResponse`` for already-validated ``inputs``."""
    data: list[dict[str, Any]] = []
    tokens = 0
    for index, item in enumerate(inputs):
        if isinstance(item, str):
            vector = embed_text(item, dimensions)
            tokens += len(item.split())
        else:
            vector = embed_tokens(item, dimensions)
            tokens += len(item)
        embedding: list[float] | str = (
            encode_base64(vector) if encoding_format == "base64" else vector
        )
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
