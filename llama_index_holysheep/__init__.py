"""LlamaIndex integration for the HolySheep AI relay.

>>> from llama_index_holysheep import HolySheep, HolySheepEmbedding
>>> llm = HolySheep(model="claude-sonnet-4.5", api_key="hs_example_key_0123456789")
>>> llm.metadata.context_window, llm.metadata.is_function_calling_model
(200000, True)

The same classes are importable the LlamaIndex way:
``from llama_index.llms.holysheep import HolySheep`` and
``from llama_index.embeddings.holysheep import HolySheepEmbedding``.

Without llama-index-core, importing this package raises ``ModuleNotFoundError`` saying to
``pip install 'holysheep-integrations[llama-index]'``.
"""

from holysheep_relay import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ConfigurationError,
    ContextLengthExceededError,
    InvalidInputError,
    ModelNotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimiter,
    RateLimitError,
    RedisRateLimiter,
    RelayConnectionError,
    RelayError,
    RelayTimeoutError,
    ServerError,
    SpendBudget,
    StoreUnavailableError,
    StreamInterruptedError,
    Timeouts,
    UsageEvent,
    UsageLedger,
)
from holysheep_relay._extras import missing_extra

try:
    from .embeddings import DEFAULT_EMBEDDING_MODEL, HolySheepEmbedding
    from .llms import DEFAULT_MODEL, HolySheep
except ModuleNotFoundError as _exc:
    _clear = missing_extra(
        _exc,
        integration="llama_index_holysheep",
        module="llama_index.core",
        package="llama-index-core",
        extra="llama-index",
    )
    if _clear is None:
        raise
    raise _clear from _exc

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_MODEL",
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ConfigurationError",
    "ContextLengthExceededError",
    "HolySheep",
    "HolySheepEmbedding",
    "InvalidInputError",
    "ModelNotFoundError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "RateLimiter",
    "RedisRateLimiter",
    "RelayConnectionError",
    "RelayError",
    "RelayTimeoutError",
    "ServerError",
    "SpendBudget",
    "StoreUnavailableError",
    "StreamInterruptedError",
    "Timeouts",
    "UsageEvent",
    "UsageLedger",
]
