"""holysheep_relay: the shared core for talking to the HolySheep AI relay.

The names here are what applications use: the clients, their streams and results, the
errors, retry and rate-limit policies, usage and cost, and the catalog. Framework adapters
reach the core through ``holysheep_relay.provider``; ``holysheep_relay.testing`` and the
other modules are not imported by ``import holysheep_relay``.

>>> from holysheep_relay import RelayClient
>>> client = RelayClient(api_key="hs_example_key_0123456789")
>>> client.config.base_url
'https://api.holysheep.ai/v1'
>>> client.close()
"""

from ._version import __version__
from .accumulate import StreamResult
from .batch import BatchSummary, run_batch
from .budget import BudgetStatus, SpendBudget
from .catalog import ModelSpec, get_model_spec, known_model_ids, resolve_model
from .client import AsyncRelayClient, RelayClient
from .config import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    RelayConfig,
    Timeouts,
)
from .errors import (
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
    RateLimitError,
    RelayConnectionError,
    RelayError,
    RelayTimeoutError,
    ServerError,
    StoreUnavailableError,
    StreamInterruptedError,
)
from .options import ClientOptions
from .ratelimit import Limiter, RateLimiter, Reservation
from .redis_limiter import RedisRateLimiter
from .redis_usage import RedisUsageLedger
from .retry import RetryPolicy
from .stream import AsyncChatStream, ChatStream
from .usage import ModelPrice, ModelTotals, Pricing, UsageCallback, UsageEvent, UsageLedger
from .wire import (
    ChatChunk,
    ChatCompletion,
    ChatMessage,
    Choice,
    ChunkChoice,
    Delta,
    EmbeddingResult,
    FunctionCall,
    ModelInfo,
    ToolCall,
    ToolCallDelta,
    Usage,
)

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "APIStatusError",
    "AsyncChatStream",
    "AsyncRelayClient",
    "AuthenticationError",
    "BadRequestError",
    "BatchSummary",
    "BudgetExceededError",
    "BudgetStatus",
    "ChatChunk",
    "ChatCompletion",
    "ChatMessage",
    "ChatStream",
    "Choice",
    "ChunkChoice",
    "ClientOptions",
    "ConfigurationError",
    "ContextLengthExceededError",
    "Delta",
    "EmbeddingResult",
    "FunctionCall",
    "InvalidInputError",
    "Limiter",
    "ModelInfo",
    "ModelNotFoundError",
    "ModelPrice",
    "ModelSpec",
    "ModelTotals",
    "PermissionDeniedError",
    "Pricing",
    "ProtocolError",
    "RateLimitError",
    "RateLimiter",
    "RedisRateLimiter",
    "RedisUsageLedger",
    "RelayClient",
    "RelayConfig",
    "RelayConnectionError",
    "RelayError",
    "RelayTimeoutError",
    "Reservation",
    "RetryPolicy",
    "ServerError",
    "SpendBudget",
    "StoreUnavailableError",
    "StreamInterruptedError",
    "StreamResult",
    "Timeouts",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "UsageCallback",
    "UsageEvent",
    "UsageLedger",
    "__version__",
    "get_model_spec",
    "known_model_ids",
    "resolve_model",
    "run_batch",
]
